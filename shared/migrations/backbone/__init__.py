"""The backbone's revisions (branch `backbone`): the tables every service's database
holds (shared/tables.py). Each service's first revision depends on `backbone_0001`."""
