-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d): one database per
-- bounded context, so no service reads another's store (docs/architecture.md).
CREATE DATABASE weai_nodes OWNER weai;
CREATE DATABASE weai_rewards OWNER weai;
CREATE DATABASE weai_security OWNER weai;
