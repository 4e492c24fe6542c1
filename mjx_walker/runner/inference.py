"""ONNX policy inference with onnxruntime: provider choice and checks against the runner's layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mjx_walker.observation import actor_layout
from mjx_walker.onnx_meta import INPUT_NAME, OUTPUT_NAME, PolicyFileError, PolicyMeta, load_model, read_meta

PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class PolicyMismatchError(ValueError):
    """The ONNX policy does not fit what this runner builds or commands."""


def choose_providers(available: list[str] | None = None) -> list[str]:
    """TensorRT, CUDA, CPU: those of them onnxruntime offers here, in that order."""
    import onnxruntime as ort

    available = ort.get_available_providers() if available is None else available
    return [p for p in PROVIDER_ORDER if p in available] or ["CPUExecutionProvider"]


def check_compatible(meta: PolicyMeta, obs_dim: int | str | None, action_dim: int | str | None) -> None:
    """Raise PolicyMismatchError unless graph, metadata and the runner's actor layout agree."""
    layout = actor_layout(meta.nu)
    if meta.obs_layout and [b["name"] for b in meta.obs_layout] != [n for n, _ in layout.blocks]:
        raise PolicyMismatchError(
            f"observation layout {[b['name'] for b in meta.obs_layout]} in the ONNX metadata differs "
            f"from this runner's {[n for n, _ in layout.blocks]}; re-export with this mjx_walker version"
        )
    for what, got, want in (
        ("observation", obs_dim, layout.size),
        ("observation (metadata)", meta.obs_dim, layout.size),
        ("action", action_dim, meta.nu),
        ("action (metadata)", meta.action_dim, meta.nu),
    ):
        if isinstance(got, int) and got != want:
            raise PolicyMismatchError(
                f"policy {what} size is {got} but this runner builds {want} for robot "
                f"{meta.robot!r} with {meta.nu} joints (layout {layout.to_json()}); the policy was "
                "exported for a different observation layout or robot"
            )


class OnnxPolicy:
    """A self-describing ONNX policy: ``policy(obs (obs_dim,)) -> action (nu,)``."""

    def __init__(self, path: str | os.PathLike, providers: list[str] | None = None, verbose: bool = True) -> None:
        """Load the model, read and check its metadata, open an onnxruntime session."""
        import onnxruntime as ort

        self.path = Path(path)
        model = load_model(self.path)
        self.meta = read_meta(model, source=str(self.path))
        providers = choose_providers() if providers is None else providers
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a small MLP: threads cost more than they save
        provider_args: list[str | tuple[str, dict[str, str]]] = [
            (p, {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(self.path.parent)})
            if p == "TensorrtExecutionProvider"
            else p
            for p in providers
        ]
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), options, providers=provider_args)
        except Exception as err:  # onnxruntime's own exception types (InvalidGraph, Fail, ...)
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise PolicyFileError(f"{self.path}: onnxruntime cannot load this model ({first})") from err
        self.provider = self.session.get_providers()[0]
        inp, out = self.session.get_inputs()[0], self.session.get_outputs()[0]
        if inp.name != INPUT_NAME or out.name != OUTPUT_NAME:
            raise PolicyMismatchError(
                f"expected input {INPUT_NAME!r} and output {OUTPUT_NAME!r}, got {inp.name!r}, {out.name!r}"
            )
        check_compatible(self.meta, inp.shape[-1], out.shape[-1])
        if verbose:
            print(f"onnxruntime: running {self.path.name} on {self.provider} (offered: {providers})")

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Action (nu,) for one observation (obs_dim,)."""
        x = np.asarray(obs, np.float32).reshape(1, -1)
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0][0]
