-- Runs once, when the PostgreSQL volume is first initialised (docker-entrypoint-initdb.d).
-- Each service owns its database; none reads another's tables.
CREATE DATABASE parley_auth;
CREATE DATABASE parley_chat;
CREATE DATABASE parley_notify;
