#!/usr/bin/env python3
"""Open-world constructions and their scoring, for bench/openworld.sh.

  open_world.py make SRC OUT --format dbp15k|openea [--remove 0.2] [--seed 1]
      Copies a research data set into OUT with the right entities of a share
      of the test links removed: their entity lines, every triple that
      touches them and their links. The left entities of those links then
      have no counterpart. OUT/removed_left.tsv lists them, for scoring only
      (kgalign never reads it: it is not in the layout the importer reads).
      The choice is seeded and made on the set of links, not on line order.

  open_world.py gold SRC OUT
      For a pair whose gold links are complete (OpenEA layout, e.g. from
      `kgalign synth --one-sided P`): OUT/gold_test_links.tsv (the test
      links of fold 1) and OUT/removed_left.tsv (left entities in no link).

  open_world.py score ALIGN.tsv OUT
      Scores `kgalign align` output against OUT's gold: the test links that
      remain, and the left entities of removed_left.tsv (gold: no match).
      Prints JSON: precision and recall of the `match` rows over the test
      domain, the share of counterpart-less entities matched, the
      calibration table and its expected calibration error.
"""
import json, os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dataset_copy import (copy_without, make_options, pick_share, read_tsv,
                          write_tsv)

def make_dbp15k(src, out, share, seed):
    ids2 = dict(read_tsv(os.path.join(src, 'ent_ids_2')))
    ids1 = dict(read_tsv(os.path.join(src, 'ent_ids_1')))
    test = [tuple(r) for r in read_tsv(os.path.join(src, 'ref_pairs'))]
    gone = pick_share([ids2[r] for _, r in test], share, seed)
    gone_ids = {i for i, u in ids2.items() if u in gone}
    copy_without(src, out, 'dbp15k', 2, gone, gone_ids)
    return write_gold(out, [(ids1[l], ids2[r], r in gone_ids) for l, r in test])

def make_openea(src, out, share, seed):
    test = [tuple(r) for r in read_tsv(os.path.join(src, '721_5fold/1/test_links'))]
    gone = pick_share([r for _, r in test], share, seed)
    copy_without(src, out, 'openea', 2, gone, folds=['1'])
    return write_gold(out, [(l, r, r in gone) for l, r in test])

def write_gold(out, test):
    """The gold of a construction from its test links (left, right, whether
    right was removed): the left entities left without a counterpart, and
    the links that remain. Returns how many were left without."""
    removed = [(l,) for l, _, gone in test if gone]
    kept = [(l, r) for l, r, gone in test if not gone]
    write_tsv(os.path.join(out, 'removed_left.tsv'), removed)
    write_tsv(os.path.join(out, 'gold_test_links.tsv'), kept)
    return len(removed)

def gold_openea(src, out):
    linked = {r[0] for r in read_tsv(os.path.join(src, 'ent_links'))}
    lefts = set()
    for name in ('rel_triples_1', 'attr_triples_1'):
        p = os.path.join(src, name)
        if os.path.exists(p):
            for r in read_tsv(p):
                lefts.add(r[0])
                if name == 'rel_triples_1':
                    lefts.add(r[2])
    os.makedirs(out, exist_ok=True)
    write_tsv(os.path.join(out, 'removed_left.tsv'), [(l,) for l in sorted(lefts - linked)])
    write_tsv(os.path.join(out, 'gold_test_links.tsv'),
              read_tsv(os.path.join(src, '721_5fold/1/test_links')))
    return len(lefts - linked)

BINS = [(0.0, 0.5), (0.5, 0.7), (0.7, 0.9), (0.9, 0.99), (0.99, 1.0000001)]

def score(align_path, out):
    gold = dict(read_tsv(os.path.join(out, 'gold_test_links.tsv')))
    removed = {r[0] for r in read_tsv(os.path.join(out, 'removed_left.tsv'))}
    rows = {}
    with open(align_path, encoding='utf-8') as f:
        header = None
        for line in f:
            if line.startswith('#'):
                header = line.lstrip('#').rstrip('\n').split('\t')
                continue
            r = line.rstrip('\n').split('\t')
            rows[r[0]] = dict(zip(header, r))
    tp = fp = 0
    matched_removed = 0
    cal = [[0, 0.0, 0] for _ in BINS]
    ece_n = 0
    for left in list(gold) + sorted(removed):
        r = rows.get(left)
        truth = gold.get(left)
        if r is None:
            continue
        p = float(r['probability'])
        right_ok = truth is not None and r['right_id'] == truth
        if r['decision'] == 'match':
            if right_ok: tp += 1
            else: fp += 1
            if left in removed: matched_removed += 1
        for b, (lo, hi) in enumerate(BINS):
            if lo <= p < hi:
                cal[b][0] += 1; cal[b][1] += p; cal[b][2] += right_ok
        ece_n += 1
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / len(gold) if gold else 0.0
    table = []
    ece = 0.0
    for (lo, hi), (n, ps, ok) in zip(BINS, cal):
        if n:
            ece += n / ece_n * abs(ps / n - ok / n)
        table.append({'bin': '%g-%g' % (lo, min(hi, 1)), 'rows': n,
                      'mean_probability': round(ps / n, 4) if n else None,
                      'share_correct': round(ok / n, 4) if n else None})
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return {'precision': round(prec, 4), 'recall': round(rec, 4), 'f1': round(f1, 4),
            'queries_with_counterpart': len(gold), 'queries_without': len(removed),
            'without_matched_share': round(matched_removed / len(removed), 4) if removed else None,
            'ece': round(ece, 4), 'calibration': table}

def main(argv):
    if len(argv) >= 3 and argv[1] == 'make':
        src, out = argv[2], argv[3]
        fmt, share, seed = make_options('open_world.py', argv[4:], 'dbp15k', 0.2)
        n = (make_dbp15k if fmt == 'dbp15k' else make_openea)(src, out, share, seed)
        print('%s: %d left entities without a counterpart' % (out, n), file=sys.stderr)
    elif len(argv) == 4 and argv[1] == 'gold':
        n = gold_openea(argv[2], argv[3])
        print('%s: %d left entities without a counterpart' % (argv[3], n), file=sys.stderr)
    elif len(argv) == 4 and argv[1] == 'score':
        print(json.dumps(score(argv[2], argv[3])))
    else:
        sys.exit(__doc__)

if __name__ == '__main__':
    main(sys.argv)
