"""This service's access policy (rule data in access.json beside this file)."""
from pathlib import Path

from shared.auth import load_policy

POLICY = load_policy(Path(__file__).with_name("access.json"))
