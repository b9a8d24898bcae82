"""User-defined types through Debian's python3-cassandra driver on a 3-node cluster.

Run by tests/cluster/udt_test.sh:  udt_test.py HOST1,HOST2,HOST3 ROOT

Types and a table are made through node 1 only; a second driver that talks to
node 3 only must then see them in cluster.metadata (fields in order, types as
Cassandra names them), write values with a prepared INSERT at QUORUM and read
them back as namedtuples (nested type, null field, missing row).  ALTER TYPE
ADD / RENAME through node 3 updates node 3's driver metadata from the
TYPE schema change result, reaches node 1 (its driver metadata, from the
SCHEMA_CHANGE event node 1 sends when it merges the change) and the values
(an old value reads the added field as None).  A driver whose only host is
node 2 (control connection included) sees a table made, altered and dropped
through node 1 in its metadata without a refresh: node 2 pushes an event for
every change it merges from a peer.  A non-frozen column: fields written through
different nodes are all kept, a whole value replaces them, markers for fields are
typed and named by the field, field misuse is refused in Cassandra's words.  DROP TYPE
while used and CREATE
TYPE of an existing name are refused with Cassandra's messages.  Prints one
line per check; exits 1 on any failure.
"""
import sys
import time
from collections import namedtuple

from cassandra import ConsistencyLevel, InvalidRequest
from cassandra.cluster import Cluster
from cassandra.query import SimpleStatement
from cassandra.policies import WhiteListRoundRobinPolicy

from clusterlib import FAILED, check

HOSTS = sys.argv[1].split(",")
KS = "udt_test"


def connect(host):
    c = Cluster([host], protocol_version=4,
                load_balancing_policy=WhiteListRoundRobinPolicy([host]))
    return c, c.connect()


def wait_for(what, fn, timeout=30):
    end = time.time() + timeout
    while True:
        try:
            v = fn()
            if v:
                return v
        except Exception as e:  # metadata not there yet
            v = e
        if time.time() > end:
            return v
        time.sleep(0.2)


def udt_fields(cluster, name):
    ks = cluster.metadata.keyspaces.get(KS)
    t = ks.user_types.get(name) if ks else None
    return list(zip(t.field_names, t.field_types)) if t else None


c1, s1 = connect(HOSTS[0])
c3, s3 = connect(HOSTS[2])
s1.execute("DROP KEYSPACE IF EXISTS %s" % KS)
s1.execute("CREATE KEYSPACE %s WITH replication = {'class': 'SimpleStrategy', "
           "'replication_factor': 3}" % KS)
# The python driver refreshes its metadata for each SCHEMA_CHANGE event after a random delay
# (schema_event_refresh_window), so a type's event can be handled before its keyspace's and
# the type is then dropped (Metadata._update_type: KeyError). Node 3's driver must know the
# keyspace before the types' events arrive.
got = wait_for("keyspace", lambda: KS in c3.metadata.keyspaces)
check("node 3's driver metadata shows the keyspace", got is True, got)
s1.execute("CREATE TYPE %s.address (street text, city text)" % KS)
s1.execute("CREATE TYPE %s.person (name text, home frozen<address>, tags frozen<set<text>>)" % KS)
s1.execute("CREATE TABLE %s.people (id int PRIMARY KEY, p frozen<person>)" % KS)
check("schema agreed after the DDL through node 1", c1.control_connection.wait_for_schema_agreement())

want_addr = [("street", "text"), ("city", "text")]
want_person = [("name", "text"), ("home", "frozen<address>"), ("tags", "frozen<set<text>>")]
got = wait_for("address", lambda: udt_fields(c3, "address") == want_addr and udt_fields(c3, "address"))
check("node 3's driver metadata shows type address", got == want_addr, got)
got = wait_for("person", lambda: udt_fields(c3, "person") == want_person and udt_fields(c3, "person"))
check("node 3's driver metadata shows type person", got == want_person, got)
col = wait_for("people", lambda: c3.metadata.keyspaces[KS].tables["people"].columns["p"].cql_type)
check("the column's type reads frozen<person>", col == "frozen<person>", col)

s3.set_keyspace(KS)
ins = s3.prepare("INSERT INTO people (id, p) VALUES (?, ?)")
ins.consistency_level = ConsistencyLevel.QUORUM
Address = namedtuple("Address", "street city")
Person = namedtuple("Person", "name home tags")
s3.execute(ins, (1, Person("Ada", Address("Main St", "Oslo"), {"a", "b"})))
s3.execute(ins, (2, Person("Bob", None, None)))
s3.execute(ins, (3, ("Cy", ("Side St", None), set())))

sel = s1.prepare("SELECT p FROM %s.people WHERE id = ?" % KS)
sel.consistency_level = ConsistencyLevel.QUORUM
p = s1.execute(sel, (1,)).one().p
check("a value reads back as a namedtuple with the type's fields",
      type(p).__name__ == "person" and p._fields == ("name", "home", "tags"), repr(p))
check("values round trip through node 3 -> node 1",
      p.name == "Ada" and p.home.street == "Main St" and p.home.city == "Oslo"
      and set(p.tags) == {"a", "b"}, repr(p))
p = s1.execute(sel, (2,)).one().p
check("null fields read as None", p.name == "Bob" and p.home is None and p.tags is None, repr(p))
p = s1.execute(sel, (3,)).one().p
check("a nested null field reads as None", p.home.street == "Side St" and p.home.city is None, repr(p))

s3.execute("ALTER TYPE %s.address ADD zip int" % KS)
s3.execute("ALTER TYPE %s.address RENAME city TO town" % KS)
want = [("street", "text"), ("town", "text"), ("zip", "int")]
got = wait_for("alter", lambda: udt_fields(c3, "address") == want and udt_fields(c3, "address"))
check("the TYPE schema change result updates node 3's driver metadata", got == want, got)
check("schema agreed after ALTER TYPE through node 3", c1.control_connection.wait_for_schema_agreement())
got = wait_for("alter on node 1", lambda: udt_fields(c1, "address") == want and udt_fields(c1, "address"))
check("ALTER TYPE through node 3 reaches node 1 (its driver metadata)", got == want, got)
s1b = c1.connect(KS)
p = wait_for("old value", lambda: s1b.execute("SELECT p FROM people WHERE id = 1").one().p)
check("a value written before ADD reads the new field as None",
      getattr(p.home, "zip", "missing") is None and p.home.town == "Oslo", repr(p))

Addr3 = namedtuple("Addr3", "street town zip")
ins = s3.prepare("INSERT INTO people (id, p) VALUES (?, ?)")  # the type changed: its metadata too
# at QUORUM, as the read below: at the driver's LOCAL_ONE the write could still be on one
# replica only when the QUORUM read asks the two others (it failed so under ASan)
ins.consistency_level = ConsistencyLevel.QUORUM
s3.execute(ins, (4, Person("Di", Addr3("New St", "Rome", 100), None)))
p = s1b.execute(sel, (4,)).one().p
check("a value with the added field written through node 3 after ALTER reads back",
      p.home.zip == 100 and p.home.town == "Rome", repr(p))


# A non-frozen column: a cell per field, so writers of different fields through different
# nodes both win; a whole value replaces every field; markers for fields are typed and named.
s1.execute("CREATE TABLE %s.homes (id int PRIMARY KEY, a address, n int)" % KS)
check("schema agreed after CREATE TABLE homes", c1.control_connection.wait_for_schema_agreement())
c3.refresh_schema_metadata()
col = wait_for("homes", lambda: c3.metadata.keyspaces[KS].tables["homes"].columns["a"].cql_type)
check("a non-frozen column's type reads address", col == "address", col)
ins = s3.prepare("INSERT INTO homes (id, a) VALUES (?, ?)")
ins.consistency_level = ConsistencyLevel.QUORUM
s3.execute(ins, (1, Addr3("Main St", "Oslo", 1)))
set_town = s1.prepare("UPDATE %s.homes SET a.town = ? WHERE id = ?" % KS)
set_town.consistency_level = ConsistencyLevel.QUORUM
meta = [(m.name, m.type.cql_parameterized_type()) for m in set_town.column_metadata]
check("SET a.town = ? is a marker named a.town typed text",
      meta in ([("a.town", "text"), ("id", "int")], [("a.town", "varchar"), ("id", "int")]), meta)
set_zip = s3.prepare("UPDATE homes SET a.zip = ? WHERE id = ?")
set_zip.consistency_level = ConsistencyLevel.QUORUM
s1.execute(set_town, ("Bergen", 1))
s3.execute(set_zip, (5003, 1))
hsel = s1.prepare("SELECT a, a.town FROM %s.homes WHERE id = ?" % KS)
hsel.consistency_level = ConsistencyLevel.QUORUM
r = s1.execute(hsel, (1,)).one()
check("fields set through node 1 and node 3 are both kept",
      type(r.a).__name__ == "address" and tuple(r.a) == ("Main St", "Bergen", 5003)
      and r.a_town == "Bergen", repr(r))
# both writes at QUORUM, as the read: at the driver's LOCAL_ONE each could be on one replica
# only when the QUORUM read asks two others
s1.execute(SimpleStatement("UPDATE %s.homes USING TIMESTAMP 2000 SET a.town = 'Paris' WHERE id = 2"
                           % KS, consistency_level=ConsistencyLevel.QUORUM))
s3.execute(SimpleStatement("UPDATE homes USING TIMESTAMP 1000 SET a.zip = 75 WHERE id = 2",
                           consistency_level=ConsistencyLevel.QUORUM))
r = s3.execute(SimpleStatement("SELECT a FROM homes WHERE id = 2",
                               consistency_level=ConsistencyLevel.QUORUM)).one()
check("an older write of another field is not lost", tuple(r.a) == (None, "Paris", 75), repr(r))
whole = s3.prepare("UPDATE homes SET a = ? WHERE id = ?")
whole.consistency_level = ConsistencyLevel.QUORUM
s3.execute(whole, (Addr3(None, "Rome", None), 1))
r = s1.execute(hsel, (1,)).one()
check("a whole value deletes the fields written before it", tuple(r.a) == (None, "Rome", None),
      repr(r))
lit = s1.prepare("INSERT INTO %s.homes (id, a) VALUES (?, {town: ?, zip: :z})" % KS)
meta = [(m.name, m.type.cql_parameterized_type()) for m in lit.column_metadata]
check("markers in a user type literal are typed and named by their field",
      meta in ([("id", "int"), ("a.town", "text"), ("z", "int")],
               [("id", "int"), ("a.town", "varchar"), ("z", "int")]), meta)
lit.consistency_level = ConsistencyLevel.QUORUM
s1.execute(lit, (3, "Lima", 15))
delf = s1.prepare("DELETE a.zip FROM %s.homes WHERE id = ?" % KS)
delf.consistency_level = ConsistencyLevel.QUORUM
s1.execute(delf, (3,))
r = s3.execute(SimpleStatement("SELECT a FROM homes WHERE id = 3",
                               consistency_level=ConsistencyLevel.QUORUM)).one()
check("a literal with markers writes; DELETE a.zip removes one field",
      tuple(r.a) == (None, "Lima", None), repr(r))
for stmt, want in [
        ("UPDATE %s.people SET p.name = 'x' WHERE id = 1" % KS,
         "Invalid operation (p.name = 'x') for frozen UDT column p"),
        ("UPDATE %s.homes SET n.x = 1 WHERE id = 1" % KS,
         "Invalid operation (n.x = 1) for non-UDT column n"),
        ("UPDATE %s.homes SET a.nope = ? WHERE id = 1" % KS,
         "UDT column a does not have a field named nope"),
        ("DELETE p.name FROM %s.people WHERE id = 1" % KS,
         "Frozen UDT column p does not support field deletions"),
        ("CREATE TABLE %s.bad (a address PRIMARY KEY)" % KS,
         "Invalid non-frozen user-defined type %s.address for PRIMARY KEY column 'a'" % KS),
        ("SELECT * FROM %s.homes WHERE a = {zip: 1} ALLOW FILTERING" % KS,
         "Non-frozen UDT column 'a' (%s.address) cannot be restricted by any relation" % KS)]:
    try:
        (s1.prepare(stmt) if "?" in stmt else s1.execute(stmt))
        ok, msg = False, "accepted"
    except InvalidRequest as e:
        ok, msg = want in str(e), str(e)
    check("refused: " + want, ok, msg)
s1.execute("DROP TABLE %s.homes" % KS)

# Markers nested in literals: typed as the part they stand for, named as Cassandra's specs.
nested = s3.prepare("INSERT INTO people (id, p) VALUES (?, {name: ?, home: {street: ?, zip: ?}, "
                    "tags: {?}})")
meta = [(m.name, m.type.cql_parameterized_type().replace("varchar", "text"))
        for m in nested.column_metadata]
check("markers nested in user type and set literals are typed and named by their part",
      meta == [("id", "int"), ("p.name", "text"), ("p.home.street", "text"), ("p.home.zip", "int"),
               ("value(p.tags)", "text")], meta)
nested.consistency_level = ConsistencyLevel.QUORUM
s3.execute(nested, (5, "Eve", "Long St", 42, "t1"))
p = s1.execute(sel, (5,)).one().p
check("a value with nested markers reads back",
      p.name == "Eve" and p.home.street == "Long St" and p.home.zip == 42 and p.home.town is None
      and set(p.tags) == {"t1"}, repr(p))


def refused(session, stmt, want):
    try:
        session.execute(stmt)
    except InvalidRequest as e:
        return want in str(e), str(e)
    return False, "accepted"


ok, msg = refused(s3, "DROP TYPE %s.address" % KS,
                  "Cannot drop user type '%s.address' as it is still used by user types person" % KS)
check("DROP TYPE of a type another type uses is refused", ok, msg)
ok, msg = refused(s1, "DROP TYPE %s.person" % KS,
                  "Cannot drop user type '%s.person' as it is still used by tables people" % KS)
check("DROP TYPE of a type a table uses is refused", ok, msg)
ok, msg = refused(s3, "CREATE TYPE %s.address (x int)" % KS,
                  "A user type with name 'address' already exists")
check("CREATE TYPE of an existing name is refused", ok, msg)

s1.execute("DROP TABLE %s.people" % KS)
s1.execute("DROP TYPE %s.person" % KS)
s1.execute("DROP TYPE %s.address" % KS)
check("schema agreed after DROP TYPE through node 1", c3.control_connection.wait_for_schema_agreement())
got = wait_for("dropped", lambda: udt_fields(c3, "address") is None and udt_fields(c3, "person") is None)
check("dropped types leave node 3's driver metadata", got is True, got)

# Events for changes merged from peers: a driver that only knows node 2 never refreshes by
# itself, so the table shows in its metadata only if node 2 announces what it merged.
c2, s2 = connect(HOSTS[1])
check("node 2's driver holds its control connection on node 2",
      c2.control_connection._connection.endpoint.address == HOSTS[1],
      c2.control_connection._connection.endpoint)


def columns(cluster, table):
    ks = cluster.metadata.keyspaces.get(KS)
    t = ks.tables.get(table) if ks else None
    return sorted(t.columns) if t else None


s1.execute("CREATE TABLE %s.merged (k int PRIMARY KEY, v text)" % KS)
got = wait_for("created", lambda: columns(c2, "merged") == ["k", "v"] and columns(c2, "merged"))
check("a table created through node 1 appears in node 2's driver metadata", got == ["k", "v"], got)
s1.execute("ALTER TABLE %s.merged ADD w int" % KS)
got = wait_for("altered", lambda: columns(c2, "merged") == ["k", "v", "w"] and columns(c2, "merged"))
check("a column added through node 1 appears in node 2's driver metadata", got == ["k", "v", "w"], got)
s1.execute("DROP TABLE %s.merged" % KS)
got = wait_for("dropped table", lambda: columns(c2, "merged") is None)
check("a table dropped through node 1 leaves node 2's driver metadata", got is True, got)
s1.execute("DROP KEYSPACE %s" % KS)
got = wait_for("dropped keyspace", lambda: KS not in c2.metadata.keyspaces)
check("a keyspace dropped through node 1 leaves node 2's driver metadata", got is True, got)
c2.shutdown()
c1.shutdown()
c3.shutdown()
print("%d failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
