#!/usr/bin/env python3
"""New entities without retraining, for bench/inductive.sh and
tests/test_inductive.c.

  inductive.py make SRC OUT --format openea|dbp15k [--remove 0.1] [--seed 1]
      Copies a data set into OUT with the left entities of a share of the
      test links removed: their entity lines, every triple and attribute
      that touches them, and their links. What was removed goes to
      OUT/removed/, for bringing the entities back:
        rel_triples   the removed triples, OpenEA lines with URIs
                      (`kgalign add --triples`)
        attr_triples  their attribute lines (`kgalign add --attributes`;
                      absent when the source has none)
        links.tsv     their test links, LEFT<TAB>RIGHT (gold, and
                      `kgalign eval --links`)
        requests.jsonl  one /match body per entity, the entity inline:
                      {"left": {"id", "attributes", "edges"}, "k": 10}
      The choice is seeded and made on the set of links, not on line order.

  inductive.py hits-align ALIGN.tsv LINKS.tsv
      Hits@1 of `kgalign align` output on the links: the share of their
      left entities whose best candidate is the gold right entity. JSON.

  inductive.py match URL REQUESTS.jsonl LINKS.tsv
      Sends each request to URL (/match) one at a time over one kept-alive
      connection; prints JSON: Hits@1 of the first candidates, the requests
      refused (400, counted as misses), the unknown neighbours reported,
      and the latency percentiles (ms, client side).
"""
import http.client, json, os, sys, time, urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dataset_copy import (copy_without, make_options, pick_share, read_tsv,
                          write_tsv)

def requests_of(gone, triples, attrs):
    """One inline /match body per removed entity, from URI triples."""
    edges = {e: [] for e in gone}
    for h, r, t in triples:
        if h == t:
            continue
        if h in gone:
            edges[h].append({"relation": r, "neighbour": t, "direction": "out"})
        if t in gone:
            edges[t].append({"relation": r, "neighbour": h, "direction": "in"})
    attributes = {e: [] for e in gone}
    for row in attrs:
        attributes[row[0]].append([row[1], '\t'.join(row[2:])])
    out = []
    for e in sorted(gone):
        ent = {"id": e}
        if attributes[e]:
            ent["attributes"] = attributes[e]
        if edges[e]:
            ent["edges"] = edges[e]
        out.append({"left": ent, "k": 10})
    return out

def finish(out, gone, triples, attrs, links):
    rem = os.path.join(out, 'removed')
    os.makedirs(rem, exist_ok=True)
    write_tsv(os.path.join(rem, 'rel_triples'), triples)
    if attrs:
        write_tsv(os.path.join(rem, 'attr_triples'), attrs)
    write_tsv(os.path.join(rem, 'links.tsv'), sorted(links))
    with open(os.path.join(rem, 'requests.jsonl'), 'w', encoding='utf-8') as f:
        for r in requests_of(gone, triples, attrs):
            f.write(json.dumps(r, ensure_ascii=False) + '\n')
    return len(gone)

def make_openea(src, out, share, seed):
    test = read_tsv(os.path.join(src, '721_5fold', '1', 'test_links'))
    gone = pick_share([l for l, _ in test], share, seed)
    removed = copy_without(src, out, 'openea', 1, gone)
    links = [tuple(r) for r in test if r[0] in gone]
    return finish(out, gone, removed['triples'], removed['attrs'], links)

def make_dbp15k(src, out, share, seed):
    ids1 = dict(read_tsv(os.path.join(src, 'ent_ids_1')))
    ids2 = dict(read_tsv(os.path.join(src, 'ent_ids_2')))
    rel_path = os.path.join(src, 'rel_ids_1')
    rels = dict(read_tsv(rel_path)) if os.path.exists(rel_path) else {}
    test = read_tsv(os.path.join(src, 'ref_pairs'))
    gone_ids = pick_share([l for l, _ in test], share, seed)
    gone = {ids1[i] for i in gone_ids}
    removed = copy_without(src, out, 'dbp15k', 1, gone, gone_ids)
    triples = [(ids1[h], rels.get(r, r), ids1[t])
               for h, r, t in removed['triples']]
    links = [(ids1[l], ids2[r]) for l, r in test if l in gone_ids]
    return finish(out, gone, triples, [], links)

def hits_align(align_path, links_path):
    gold = dict(read_tsv(links_path))
    best = {}
    for r in read_tsv(align_path):
        if not r[0].startswith('#'):
            best[r[0]] = r[1]
    hit = sum(1 for l, r in gold.items() if best.get(l) == r)
    return {"queries": len(gold), "hits1": hit / max(len(gold), 1),
            "missing": sum(1 for l in gold if l not in best)}

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else 0.0

def match(url, req_path, links_path):
    gold = dict(read_tsv(links_path))
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    hit = refused = unknown = n = 0
    lat = []
    with open(req_path, encoding='utf-8') as f:
        for line in f:
            body = line.strip().encode('utf-8')
            if not body:
                continue
            left = json.loads(body)['left']['id']
            t0 = time.perf_counter()
            conn.request('POST', u.path or '/match', body,
                         {'Content-Type': 'application/json'})
            resp = conn.getresponse()
            data = resp.read()
            lat.append((time.perf_counter() - t0) * 1000.0)
            n += 1
            if resp.status == 400:
                refused += 1
                continue
            if resp.status != 200:
                sys.exit('match: %s answered %d: %s' % (left, resp.status, data[:300]))
            ans = json.loads(data)
            unknown += ans['query'].get('unknown_neighbours', 0)
            cands = ans['candidates']
            hit += bool(cands) and cands[0]['id'] == gold.get(left)
    return {"queries": n, "hits1": hit / max(n, 1), "refused": refused,
            "unknown_neighbours": unknown,
            "p50_ms": round(pct(lat, 0.50), 2), "p99_ms": round(pct(lat, 0.99), 2),
            "max_ms": round(max(lat) if lat else 0.0, 2)}

def main(argv):
    if len(argv) >= 3 and argv[0] == 'make':
        fmt, share, seed = make_options('inductive.py', argv[3:], 'openea', 0.1)
        make = make_dbp15k if fmt == 'dbp15k' else make_openea
        n = make(argv[1], argv[2], share, seed)
        print('removed %d left entities' % n, file=sys.stderr)
    elif len(argv) == 3 and argv[0] == 'hits-align':
        print(json.dumps(hits_align(argv[1], argv[2])))
    elif len(argv) == 4 and argv[0] == 'match':
        print(json.dumps(match(argv[1], argv[2], argv[3])))
    else:
        sys.exit(__doc__)

if __name__ == '__main__':
    main(sys.argv[1:])
