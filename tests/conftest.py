import numpy as np
import pytest


def assert_close(name, got, want, atol):
    """Assert two arrays agree, printing the tensor's name and its max abs difference on failure."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != expected {want.shape}"
    diff = float(np.max(np.abs(got - want))) if got.size else 0.0
    assert diff <= atol, f"{name}: max abs diff {diff:.3e} > {atol:.0e}"


@pytest.fixture
def close():
    return assert_close
