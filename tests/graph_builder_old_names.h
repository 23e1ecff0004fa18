#ifndef KGA_GRAPH_BUILDER_OLD_NAMES_H
#define KGA_GRAPH_BUILDER_OLD_NAMES_H

/* The graph builder's functions by the names they had before they became
 * kga_graph_builder_*, for tests/test_store.c alone: that file is being
 * reorganised on another branch and is left untouched here until that work
 * is merged. The Makefile includes this header in that one file; once it
 * uses the new names, delete this header and the Makefile's line. */

#include "store/graph_builder.h"

#define kga_builder_new kga_graph_builder_new
#define kga_builder_free kga_graph_builder_free
#define kga_builder_entity kga_graph_builder_entity
#define kga_builder_set_name kga_graph_builder_set_name
#define kga_builder_set_type kga_graph_builder_set_type
#define kga_builder_relation kga_graph_builder_relation
#define kga_builder_triple kga_graph_builder_triple
#define kga_builder_attribute kga_graph_builder_attribute

#endif
