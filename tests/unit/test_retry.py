"""The backbone's one backoff: exponential (or linear) and capped."""
from shared.retry import CONFLICT, OUTAGE, STARTUP, Backoff


def test_exponential_backoff_doubles_up_to_its_cap():
    delays = [OUTAGE.delay(n) for n in range(1, 8)]
    assert delays[:5] == [0.2, 0.4, 0.8, 1.6, 3.2]
    assert delays[5:] == [5.0, 5.0]
    assert CONFLICT.delay(1) == 0.02 and CONFLICT.delay(20) == CONFLICT.cap


def test_linear_backoff_grows_by_its_base():
    assert [STARTUP.delay(n) for n in (1, 2, 10, 100)] == [0.2, 0.4, 2.0, 5.0]
    assert Backoff(1.0, 3.0, linear=True).delay(2) == 2.0
