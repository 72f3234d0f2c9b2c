-- The privileges of the role ketaclinic runs as (docs/operations.md "Database roles").
-- Run as the owner of the tables, after every `ketaclinic migrate` (new tables need them too):
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 -v app_role=ketaclinic_app -f docs/app-role-grants.sql
-- tests/audit/test_database_role.py applies this file as it stands and checks what the role can do.

GRANT USAGE ON SCHEMA public TO :"app_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role";

-- The audit trail: read and append, nothing else.
REVOKE UPDATE, DELETE ON audit_auditevent FROM :"app_role";
-- The chains' heads: each append locks and moves its chain's head; nothing removes one.
REVOKE DELETE ON audit_auditchainhead FROM :"app_role";
