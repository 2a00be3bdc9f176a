-- One database per service (docker-compose): each service owns its data.
CREATE DATABASE submission;
CREATE DATABASE scoring;
CREATE DATABASE committee;
CREATE DATABASE grants;
CREATE DATABASE audit;
