-- Run by scripts/stack.sh on the local stack's PostgreSQL (database ferretdb), at every `up`; idempotent.
--
-- FerretDB 1.x on PostgreSQL keeps each collection as a table of one jsonb column and turns an index of the MongoDB
-- api into a btree on expressions such as ((_jsonb -> 'jobId')). Its queries test equality as containment,
-- (_jsonb -> 'jobId') @> '"j1"', which a btree cannot answer: every query would read the whole table. A GIN index
-- on the same expressions answers exactly that operator, so beside each such btree this adds its GIN twin, when the
-- btree is created (event trigger) and for those already there. Uniqueness stays with FerretDB's btree.

-- A generic plan cannot use the twins (FerretDB passes the field name as a parameter); plan each query for its values.
ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan;

CREATE OR REPLACE FUNCTION vdet_gin_twin(index_oid oid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  def text := pg_get_indexdef(index_oid);
  idx record;
  cols text;
  twin text;
BEGIN
  IF def !~ ' USING btree \(.*_jsonb' THEN RETURN; END IF;
  SELECT c.relname AS name, n.nspname AS schema, t.relname AS tbl INTO idx
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace WHERE i.indexrelid = index_oid;
  IF idx.tbl LIKE '\_ferretdb\_%' THEN RETURN; END IF; -- FerretDB's own metadata
  cols := regexp_replace(substring(def FROM ' USING btree \((.*)\)$'), ' (DESC|ASC)( NULLS (FIRST|LAST))?', '', 'g');
  twin := left(idx.name, 50) || '_' || substr(md5(idx.name), 1, 8) || '_gin';
  -- fastupdate off: new entries go straight into the index, not a pending list that every query reads through.
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin (%s) WITH (fastupdate = off)', twin, idx.schema, idx.tbl, cols);
  EXECUTE format('ALTER INDEX %I.%I SET (fastupdate = off)', idx.schema, twin);
END $$;

CREATE OR REPLACE FUNCTION vdet_gin_twin_trigger() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' LOOP
    PERFORM vdet_gin_twin(r.objid);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS vdet_gin_twin;
CREATE EVENT TRIGGER vdet_gin_twin ON ddl_command_end WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION vdet_gin_twin_trigger();

-- Twins for indexes created before this file ran (e.g. a stack started without it).
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') LOOP
    PERFORM vdet_gin_twin(r.indexrelid);
  END LOOP;
END $$;
