"""Copies of a research data set with some entities taken out, the part
bench/inductive.py (left entities removed, to bring back without
retraining) and bench/open_world.py (right entities removed, to leave left
ones without a counterpart) share: TSV files read and written as they are,
and the seeded choice of what to remove.
"""
import os, random

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
