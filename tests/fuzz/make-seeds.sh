#!/usr/bin/env bash
# Regenerates the seed corpora in tests/fuzz/corpus/HARNESS/: valid and
# near-valid inputs. Stores and a model come from ./kgalign on a tiny
# synthetic pair and on the import fixtures; a model with every section
# kind from tests/fuzz/seed_model.c; request bodies from
# tests/fixtures/proto; import inputs from tests/fixtures/import in the
# format of tests/fuzz/fuzz_import.h. Needs `make` to have built ./kgalign.
set -euo pipefail
cd "$(dirname "$0")/../.."

KGALIGN=${KGALIGN:-./kgalign}
CC=${CC:-cc}
if [ ! -x "$KGALIGN" ]; then
  echo "make-seeds.sh: $KGALIGN not found: run make first" >&2
  exit 1
fi
C=tests/fuzz/corpus
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kga-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
rm -rf "$C"
for h in fuzz_wire fuzz_store fuzz_model fuzz_import_openea \
for h in fuzz_wire fuzz_store fuzz_model fuzz_import_openea \
         fuzz_import_dbp15k fuzz_import_records fuzz_import_ntriples \
         fuzz_config fuzz_request_path; do
  mkdir -p "$C/$h"
done

# The import fixtures are kept with a ".txt" suffix; lay them out under
# their real names first.
cp -r tests/fixtures/import "$tmp/fixtures"
find "$tmp/fixtures" -type f -name '*.txt' -exec sh -c 'mv "$1" "${1%.txt}"' _ {} \;

# ---- graph stores and models ----
q() { "$@" >/dev/null 2>&1 || { echo "make-seeds.sh: failed: $*" >&2; exit 1; }; }
q "$KGALIGN" synth --entities 12 --seed 7 "$tmp/synth"
q "$KGALIGN" import --format openea "$tmp/synth" "$tmp/synth.out"
q "$KGALIGN" train "$tmp/synth.out" -o "$tmp/synth.out/model.kgm" --no-gnn \
  --threads 1 --rounds 0
q "$KGALIGN" import --format openea "$tmp/fixtures/openea_small" "$tmp/oe"
q "$KGALIGN" import --format dbp15k "$tmp/fixtures/dbp15k_small" "$tmp/dbp"
cp "$tmp/synth.out/left.kgs" "$C/fuzz_store/synth_left.kgs"
cp "$tmp/synth.out/right.kgs" "$C/fuzz_store/synth_right.kgs"
cp "$tmp/oe/left.kgs" "$C/fuzz_store/openea_small_left.kgs"
cp "$tmp/dbp/right.kgs" "$C/fuzz_store/dbp15k_small_right.kgs"
cp "$tmp/synth.out/model.kgm" "$C/fuzz_model/synth_fused.kgm"
q "$CC" -std=c11 -D_GNU_SOURCE -I. -Icore tests/fuzz/seed_model.c \
  core/model/model_*.c core/base/hash.c core/base/error.c \
  core/base/mapped_file.c core/base/atomic_file.c core/base/utf8.c \
  core/base/xalloc.c -o "$tmp/seed_model"
q "$tmp/seed_model" "$C/fuzz_model/all_kinds.kgm"
# Near-valid: cut short (the size field then exceeds the length); a NaN in
# the first tensor's second value (the harness repairs the checksum).
head -c 1000 "$C/fuzz_model/all_kinds.kgm" > "$C/fuzz_model/truncated.kgm"
python3 - "$C/fuzz_model/all_kinds.kgm" "$C/fuzz_model/nan_tensor.kgm" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
count, table = struct.unpack_from('<I', b, 36)[0], struct.unpack_from('<Q', b, 48)[0]
for i in range(count):
    row = table + 128 * i
    kind, = struct.unpack_from('<I', b, row + 64)
    off, size = struct.unpack_from('<QQ', b, row + 104)
    if kind == 1 and size >= 8:  # f32
        struct.pack_into('<I', b, off + 4, 0x7fc00000)
        break
open(sys.argv[2], 'wb').write(b)
PY
head -c 600 "$C/fuzz_store/synth_left.kgs" > "$C/fuzz_store/truncated.kgs"

# ---- request bodies: line 2 of every block of decode.test, and the
# fixtures ----
awk -v dir="$C/fuzz_wire" '
  /^#/ { next }
  /^$/ { n = 0; next }
  { n++; if (n == 2) { k++; f = sprintf("%s/decode_%03d.json", dir, k);
                       printf "%s", $0 > f; close(f) } }
' tests/fixtures/proto/decode.test
for f in tests/fixtures/proto/*request*.json; do
  cp "$f" "$C/fuzz_wire/$(basename "$f")"
done

# ---- configuration ----
cp config/kgalign.conf "$C/fuzz_config/kgalign.conf"
printf '%s\n' '# every value syntax' 'listen = "0.0.0.0"' 'port=0' \
  'data_dir = "/srv/kga # data "   # comment' 'threshold = 0.75' \
  'request_deadline_ms = 2s' 'connection_timeout_s = 1m' \
  'drain_delay_ms = 500ms' 'retry_after_s = 1h' 'max_body_bytes = 64KiB' \
  'access_log = off' 'log_level = WARN' 'admin_token = s3cr#t' \
  '	threads = 4	' > "$C/fuzz_config/syntax.conf"
printf 'port = 8080\r\nmax_pairs = 1000000\r\nthreshold = -1\r\n' \
  > "$C/fuzz_config/crlf.conf"
printf 'port = 70000\n' > "$C/fuzz_config/range.conf"
printf 'unknown_key = 1\n' > "$C/fuzz_config/unknown.conf"

# ---- import source directories (format: tests/fuzz/fuzz_import.h) ----
# layout SRC_DIR NAME... : the files as sections, each ending in a newline.
layout() {
  local src=$1
  shift
  for name in "$@"; do
    [ -f "$src/$name" ] || continue
    printf '%%%% %s\n' "$name"
    cat "$src/$name"
    [ -z "$(tail -c 1 "$src/$name")" ] || echo
  done
}
OE="rel_triples_1 rel_triples_2 attr_triples_1 attr_triples_2 ent_links
    721_5fold/1/train_links 721_5fold/1/valid_links 721_5fold/1/test_links"
DBP="ent_ids_1 ent_ids_2 rel_ids_1 rel_ids_2 triples_1 triples_2 sup_pairs
     ref_pairs ref_ent_ids training_attrs_1 training_attrs_2"
I="$tmp/fixtures"
# shellcheck disable=SC2086
{
  layout $I/openea_small $OE > "$C/fuzz_import_openea/openea_small"
  { echo '%% lenient'; layout $I/openea_small $OE; } \
    > "$C/fuzz_import_openea/openea_small_lenient"
  layout $I/openea_small rel_triples_1 rel_triples_2 ent_links \
    721_5fold/1/train_links 721_5fold/1/test_links \
    > "$C/fuzz_import_openea/openea_no_valid"
  layout $I/dbp15k_small $DBP > "$C/fuzz_import_dbp15k/dbp15k_small"
  { echo '%% lenient'; layout $I/dbp15k_small $DBP; } \
    > "$C/fuzz_import_dbp15k/dbp15k_small_lenient"
  layout $I/dbp15k_refonly $DBP > "$C/fuzz_import_dbp15k/dbp15k_refonly"
  layout $I/dbp15k_shared_uri $DBP > "$C/fuzz_import_dbp15k/dbp15k_shared_uri"
  { echo '%% lenient'; layout $I/dbp15k_shared_uri $DBP; } \
    > "$C/fuzz_import_dbp15k/dbp15k_shared_uri_lenient"
  # "URI#ID" of a shared URI already another line's URI.
  { layout $I/dbp15k_shared_uri $DBP |
      sed 's|^105\t\(.*/Ohio\)$|105\t\1\n106\thttp://www.wikidata.org/entity/Monroe_County#101|'; } \
    > "$C/fuzz_import_dbp15k/dbp15k_shared_uri_clash"
}
T=$'\t'
cat > "$C/fuzz_import_openea/openea_min" <<EOF
%% rel_triples_1
a${T}r${T}b
b${T}rdf:type${T}City
%% rel_triples_2
x${T}r${T}y
%% attr_triples_1
a${T}rdfs:label${T}"Al"@en
%% 721_5fold/1/train_links
a${T}x
%% 721_5fold/1/test_links
b${T}y
EOF
# Near-valid: a link that is not one-to-one, a BOM and CRLF, a short line.
cat > "$C/fuzz_import_openea/openea_bad" <<EOF
%% rel_triples_1
$(printf '\xef\xbb\xbf')a${T}r${T}b$(printf '\r')
a${T}r
%% rel_triples_2
x${T}r${T}y
%% 721_5fold/1/train_links
a${T}x
b${T}x
%% 721_5fold/1/test_links
b${T}y
EOF
# Layout errors: only another fold; the other layout's files.
cat > "$C/fuzz_import_openea/openea_other_fold" <<EOF
%% rel_triples_1
a${T}r${T}b
%% rel_triples_2
x${T}r${T}y
%% 721_5fold/2/train_links
a${T}x
EOF
printf '%%%% ent_ids_1\n1\thttp://a/e1\n' > "$C/fuzz_import_openea/dbp15k_files"
printf '%%%% rel_triples_1\na\tr\tb\n' > "$C/fuzz_import_dbp15k/openea_files"
cat > "$C/fuzz_import_dbp15k/dbp15k_min" <<EOF
%% ent_ids_1
1${T}http://a/e1
2${T}http://a/e2
%% ent_ids_2
1${T}http://b/e1
2${T}http://b/e2
%% triples_1
1${T}0${T}2
%% triples_2
2${T}7${T}1
%% ref_ent_ids
1${T}1
2${T}2
EOF
cat > "$C/fuzz_import_dbp15k/dbp15k_bad" <<EOF
%% ent_ids_1
1${T}http://a/e1
1${T}http://a/e0
%% ent_ids_2
1${T}http://b/e1
%% rel_ids_1
0${T}http://www.w3.org/1999/02/22-rdf-syntax-ns#type
%% triples_1
1${T}0${T}1
1${T}9${T}1
%% triples_2
1${T}18446744073709551616${T}1
%% sup_pairs
1${T}1
EOF

# ---- request targets: a byte for the buffer size, then the target ----
rp() { printf '%b' "$2" > "$C/fuzz_request_path/$1"; }
rp plain '\x3f/align'
rp admin '\x3f/admin/reload'
rp encoded_letter '\x3f/%61dmin/reload'
rp encoded_slash '\x3f/admin%2freload'
rp encoded_backslash '\x3f/admin%5Creload'
rp encoded_nul '\x3f/admin/reload%00junk'
rp nul_byte '\x3f/admin/reload\x00junk'
rp dot_segments '\x3f/x/../admin/./reload'
rp double_slashes '\x3f//admin//reload/'
rp above_root '\x3f/a/../../admin/reload'
rp bad_escape '\x3f/%zz/%4'
rp query_slash '\x3f/align?x=%2F&y=/'
rp tiny_buffer '\x03/abc/def'
rp relative '\x3fadmin/reload'
rp not_utf8 '\x3f/x\xff\xfe/%ff'

# ---- record tables (the README's example), labelled and not ----
R="$C/fuzz_import_records"
cat > "$R/readme" <<'EOF'
%% tableA.csv
id,title,artist,price,released
a1,Hello World,The Band,$ 1.29,18-May-15
a2,"Goodbye, Moon",The Band,$ 0.99,1-Aug-12
a3,Quiet Night,Other Group,$ 1.99,5-Jan-13
a4,Loud Day,Someone,$ 2.49,3-Mar-10
%% tableB.csv
id,title,artist,price,released
b1,Hello World (Live),the band,1.29,"May 18 , 2015"
b2,Goodbye Moon,The Band,0.99,"August 1 , 2012"
b3,A Quiet Night,Other Group,1.99,"January 5 , 2013"
b4,Loud Day,Someone Else,2.49,"March 3 , 2010"
%% train.csv
ltable_id,rtable_id,label
a1,b1,1
a1,b2,0
a2,b2,1
a2,b1,0
%% valid.csv
ltable_id,rtable_id,label
a3,b3,1
a3,b4,0
%% test.csv
ltable_id,rtable_id,label
a4,b4,1
a4,b3,0
EOF
{ echo '%% entity-columns artist'; cat "$R/readme"; } > "$R/readme_entities"
{ echo '%% name-predicate artist'; echo '%% lenient'; cat "$R/readme"; } \
  > "$R/readme_lenient"
# Near-valid: quotes, a line break in a field, a short row, a duplicate id,
# a stray quote, an unclosed one, link sets without labels, an unknown id,
# a bad label, no valid.csv.
cat > "$R/records_bad" <<'EOF'
%% tableA.csv
id,name,note
1,"a ""quoted"" name","two
lines"
2,short
1,dup,x
%% tableB.csv
id,name,note
7,x"y,z
8,b,"open
%% train.csv
ltable_id,rtable_id
1,7
2,8
%% test.csv
ltable_id,rtable_id,label
1,9,1
2,8,yes
EOF

# ---- N-Triples ----
N="$C/fuzz_import_ntriples"
cat > "$N/ntriples_small" <<EOF
%% left.nt
# people
<http://a/p1> <http://www.w3.org/2000/01/rdf-schema#label> "Ada"@en .
<http://a/p1> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://s/Person> .
<http://a/p1> <http://a/born> "1815-12-10"^^<http://www.w3.org/2001/XMLSchema#date> .
<http://a/p2> <http://a/knows> <http://a/p1> .
_:b1 <http://a/knows> <http://a/p2> .
<http://a/p3> <http://a/says> "tab\\there \\"q\\" \\u00E9 \\U0001F600" .
%% right.nt
<http://b/x1> <http://purl.org/dc/terms/title> "Ada" .
<http://b/x2> <http://b/friend> <http://b/x1> .
%% train_links
<http://a/p1>${T}<http://b/x1>
%% test_links.tsv
http://a/p2${T}http://b/x2${T}1
http://a/p3${T}http://b/x2${T}0
EOF
{ echo '%% name-predicate title'; echo '%% lenient'; cat "$N/ntriples_small"; } \
  > "$N/ntriples_lenient"
cat > "$N/ntriples_bad" <<EOF
%% left.nt
<http://a/p1> <http://a/p> "x\\q" .
<http://a/p1> <http://a/p> <http://a/o>
<> <http://a/p> "\\u0000" .
%% right.nt
_:x <http://b/p> _:y .
%% train_links
http://a/p1${T}_:x${T}2
%% test_links
http://a/o${T}_:y
EOF

for h in "$C"/*; do
  printf '%-28s %3d files, %6d bytes\n' "$(basename "$h")" \
    "$(find "$h" -type f | wc -l)" "$(cat "$h"/* | wc -c)"
done
