"""Copies of a research data set with some entities taken out, the part
bench/inductive.py (left entities removed, to bring back without
retraining) and bench/open_world.py (right entities removed, to leave left
ones without a counterpart) share: TSV files read and written as they are,
the seeded choice of what to remove, and the copy without them.
"""
import os, random, sys

# The graph files of the OpenEA layout (the folds aside), as `kgalign synth`
# writes them; attr_triples_* may be absent.
OPENEA_GRAPH_FILES = ('rel_triples_1', 'rel_triples_2', 'attr_triples_1',
                      'attr_triples_2', 'ent_links')

def read_tsv(path):
    with open(path, encoding='utf-8') as f:
        return [l.rstrip('\n').split('\t') for l in f if l.strip()]

def write_tsv(path, rows):
    with open(path, 'w', encoding='utf-8') as f:
        for r in rows:
            f.write('\t'.join(r) + '\n')

def pick_share(values, share, seed):
    """A seeded share of the distinct values, chosen on the set (not on
    the order they come in)."""
    values = sorted(set(values))
    rng = random.Random(seed)
    rng.shuffle(values)
    return set(values[:int(round(share * len(values)))])

def make_options(prog, args, fmt, share):
    """The options of `PROG make SRC OUT [--format F] [--remove S] [--seed N]`
    (args: what follows OUT), with the script's default format and share:
    returns (fmt, share, seed), or exits naming a bad option."""
    seed = 1
    if len(args) % 2:
        sys.exit('%s: option %s needs a value' % (prog, args[-1]))
    for opt, value in zip(args[::2], args[1::2]):
        if opt == '--format': fmt = value
        elif opt == '--remove': share = float(value)
        elif opt == '--seed': seed = int(value)
        else: sys.exit('%s: unknown option %s' % (prog, opt))
    return fmt, share, seed

def data_files(src):
    """The files of a data set directory, but its README.md."""
    return [name for name in os.listdir(src)
            if os.path.isfile(os.path.join(src, name)) and name != 'README.md']

def copy_tsv_files(src, out, names, edit):
    """Writes each of the named files that src has into out, its rows passed
    through edit(name, rows), which returns the rows to write."""
    for name in names:
        p = os.path.join(src, name)
        if not os.path.exists(p):
            continue
        write_tsv(os.path.join(out, name), edit(name, read_tsv(p)))

def copy_without(src, out, fmt, side, gone, gone_ids=None, folds=None):
    """Copies the data set src (fmt 'openea' or 'dbp15k') into out without
    the entities `gone` (URIs) of graph `side` (1 or 2): their entity
    lines, every triple and attribute line that touches them, and every link
    they are in. In DBP15K, gone_ids are their numeric ids; in OpenEA, folds
    names the folds to copy (all of them when None). Returns the removed
    relation triples and attribute lines of that graph, in the source's
    rows (numeric ids in DBP15K): {'triples': [...], 'attrs': [...]}."""
    col = side - 1
    removed = {'triples': [], 'attrs': []}
    if fmt == 'dbp15k':
        ents, triples, attrs = gone_ids, 'triples_%d' % side, None
        links = ('ref_pairs', 'sup_pairs', 'ref_ent_ids')
        entity_file = 'ent_ids_%d' % side
        names = data_files(src)
    else:
        ents, triples, attrs = gone, 'rel_triples_%d' % side, 'attr_triples_%d' % side
        links = ('ent_links',)
        entity_file = None
        names = OPENEA_GRAPH_FILES
    def edit(name, rows):
        if name == entity_file:
            return [r for r in rows if r[0] not in ents]
        if name == triples:
            removed['triples'] = [r for r in rows if r[0] in ents or r[2] in ents]
            return [r for r in rows if r[0] not in ents and r[2] not in ents]
        if name == attrs:
            removed['attrs'] = [r for r in rows if r[0] in ents]
            return [r for r in rows if r[0] not in ents]
        if name in links:
            return [r for r in rows if r[col] not in ents]
        if fmt == 'dbp15k' and name.startswith('training_attrs_%d' % side):
            return [r for r in rows if r[0] not in gone]
        return rows
    os.makedirs(out, exist_ok=True)
    copy_tsv_files(src, out, names, edit)
    if fmt == 'openea':
        fold_dir = os.path.join(src, '721_5fold')
        for k in sorted(os.listdir(fold_dir)) if folds is None else folds:
            os.makedirs(os.path.join(out, '721_5fold', k), exist_ok=True)
            for name in sorted(os.listdir(os.path.join(fold_dir, k))):
                rows = read_tsv(os.path.join(fold_dir, k, name))
                write_tsv(os.path.join(out, '721_5fold', k, name),
                          [r for r in rows if r[col] not in ents])
    return removed
