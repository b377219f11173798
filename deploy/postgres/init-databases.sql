-- One database per service (each service owns its tables). Run once by the postgres image.
CREATE DATABASE intake;
CREATE DATABASE enrich;
CREATE DATABASE route;
CREATE DATABASE crm_sync;
CREATE DATABASE crm_changes;
CREATE DATABASE sla_monitor;
CREATE DATABASE ops;
