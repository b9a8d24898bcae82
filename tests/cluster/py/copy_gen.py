"""Writes the CSV that tests/cluster/copy_test.sh round-trips through COPY FROM / COPY TO.

Every value is in the text cqlsh's COPY TO writes (so the export must give the file back
byte for byte, rows sorted): all column types, NULLs (empty unquoted fields), empty text
(a quoted empty field), quotes, delimiters, backslashes and newlines inside text.

usage: copy_gen.py OUT.csv ROWS
"""
import csv
import sys
import uuid

out, rows = sys.argv[1], int(sys.argv[2])
TEXTS = ['plain', 'with, comma', 'say "hi"', 'two\nlines', 'back\\slash', '', 'null',
         "it's", 'tab\there', 'unicodé ✓', ' lead and trail ']


def row(i):
    t = TEXTS[i % len(TEXTS)]
    if i % 7 == 3:  # a row of NULLs except the key
        return [str(i)] + [None] * 22
    lst = "[%s]" % ", ".join("'%s'" % x.replace("'", "''") for x in (t, 'x%d' % i))
    s = "{%s}" % ", ".join(str(v) for v in sorted({i % 5, i % 3 + 10}))
    m = "{'k%d': [1, %d], 'z''': []}" % (i % 10, i)
    tp = "(%d, '%s', '2020-01-0%d 00:00:00.000000+0000')" % (i, t.replace("'", "''").replace('\n', ' '), i % 9 + 1)
    return [
        str(i),                                   # id int
        'asc%d' % i,                              # a ascii
        str(-9223372036854775808 + i),            # bi bigint
        '0x%04x' % i,                             # b blob
        'True' if i % 2 else 'False',             # bo boolean
        '2026-12-%02d' % (i % 28 + 1),            # d date
        '%d.25' % i,                              # dec decimal
        '%d.5' % i,                               # db double
        '%dh%dm' % (i % 24 + 1, i % 59 + 1),      # du duration
        '0.25',                                   # f float
        '10.0.%d.%d' % (i // 256 % 256, i % 256),  # ip inet
        str(i % 32767),                           # si smallint
        t,                                        # t text
        '12:34:%02d.123456789' % (i % 60),        # tm time
        '2026-11-25 16:24:%02d.%03d000+0000' % (i % 60, i % 1000),  # ts timestamp
        str(uuid.uuid1(node=i, clock_seq=i % 16384)),  # tu timeuuid
        str(i % 128 - 64),                        # ti tinyint
        str(uuid.UUID(int=i * 7919 + 1)),         # u uuid
        str(10 ** 25 + i),                        # vi varint
        lst, s, m, tp,                            # l, s, m, tp
    ]


with open(out, 'w', newline='') as f:
    for i in range(rows):
        fields = []
        for v in row(i):
            if v is None:
                fields.append('')
            elif v == '' or any(c in v for c in ',"\\\r\n'):
                fields.append('"' + v.replace('\\', '\\\\').replace('"', '""') + '"')
            else:
                fields.append(v)
        f.write(','.join(fields) + '\n')
