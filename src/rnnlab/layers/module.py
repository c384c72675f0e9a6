"""The parameter container every layer and model shares.

A module owns a dict of named NumPy arrays (``params``) and nothing else that
changes between calls. Optimizers update those arrays in place.
"""
import numpy as np


class Module:
    params: dict

    def param_shapes(self):
        """Ordered {name: shape} of this module's parameters."""
        return {k: v.shape for k, v in self.params.items()}

    def parameters(self):
        """The live parameter arrays (optimizers update them in place)."""
        return self.params

    def state_dict(self):
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state_dict):
        """Load arrays (or anything np.asarray takes, e.g. torch tensors) under this module's names.

        Missing, unexpected or wrong-shape keys raise ValueError naming them.
        """
        expected = self.param_shapes()
        got = {k: np.asarray(_to_numpy(v)) for k, v in dict(state_dict).items()}
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            raise ValueError(
                f"{type(self).__name__} state_dict mismatch: missing keys {missing}, unexpected keys {extra}")
        for k, shape in expected.items():
            if tuple(got[k].shape) != tuple(shape):
                raise ValueError(f"state_dict[{k!r}] has shape {got[k].shape}, expected {tuple(shape)}")
        for k in expected:
            self.params[k][...] = got[k].astype(self.params[k].dtype)


def _to_numpy(v):
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    return v
