"""Tools around the services (도구): the `hyeopchi` command line, the published
contracts, the Kafka ACL plan, the configuration reference and the dead-letter
admin. They import the services and the backbone; nothing in `shared/` or
`services/` imports them."""
