"""ONNX policy inference with onnxruntime: provider choice, metadata or policy spec, layout checks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mjx_walker.obs_terms import check_layout
from mjx_walker.onnx_meta import INPUT_NAME, OUTPUT_NAME, PolicyFileError, PolicyMeta, meta_from_props
from mjx_walker.policy_spec import load_spec, spec_meta
from mjx_walker.runner.meta_check import check_policy_meta
from mjx_walker.runner.safety import SafetyError

PROVIDER_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class PolicyMismatchError(ValueError):
    """The ONNX policy does not fit what this runner builds or commands."""


def choose_providers(available: list[str] | None = None) -> list[str]:
    """TensorRT, CUDA, CPU: those of them onnxruntime offers here, in that order."""
    import onnxruntime as ort

    available = ort.get_available_providers() if available is None else available
    return [p for p in PROVIDER_ORDER if p in available] or ["CPUExecutionProvider"]


def check_compatible(meta: PolicyMeta, obs_dim: int | str | None, action_dim: int | str | None) -> None:
    """Raise PolicyMismatchError unless graph, metadata and the observation vocabulary agree."""
    try:
        size = check_layout(meta.obs_layout, meta.nu, where="observation layout")
    except ValueError as err:
        raise PolicyMismatchError(f"{err}; re-export with this mjx_walker version, or fix the policy spec") from err
    for what, got, want in (
        ("observation", obs_dim, size),
        ("observation (metadata)", meta.obs_dim, size),
        ("action", action_dim, meta.nu),
        ("action (metadata)", meta.action_dim, meta.nu),
    ):
        if isinstance(got, int) and got != want:
            raise PolicyMismatchError(
                f"policy {what} size is {got} but its layout builds {want} for robot "
                f"{meta.robot!r} with {meta.nu} joints (layout {[(b['name'], b['size']) for b in meta.obs_layout]}); "
                "the policy was exported for a different observation layout or robot"
            )


class OnnxPolicy:
    """A self-describing ONNX policy: ``policy(obs (obs_dim,)) -> action (nu,)``."""

    def __init__(
        self,
        path: str | os.PathLike,
        providers: list[str] | None = None,
        verbose: bool = True,
        spec: str | os.PathLike | None = None,
    ) -> None:
        """Load the model, read and check its metadata (or its policy ``spec``), open a session.

        Every metadata field is checked (:func:`~mjx_walker.runner.meta_check.check_policy_meta`):
        SafetyError names a bad one, its value and what is allowed.
        """
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise PolicyFileError(f"{self.path}: no such file")
        providers = choose_providers() if providers is None else providers
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # a small MLP: threads cost more than they save
        provider_args: list[str | tuple[str, dict[str, str]]] = [
            (p, {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(self.path.parent)})
            if p == "TensorrtExecutionProvider"
            else p
            for p in providers
        ]
        # onnxruntime alone reads graph and metadata: the robot needs neither the onnx package nor JAX
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=provider_args)
        except Exception as err:  # onnxruntime's own exception types (InvalidGraph, Fail, ...)
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise PolicyFileError(f"{self.path}: not an ONNX model onnxruntime can load ({first})") from err
        if spec is None:
            props = dict(self.session.get_modelmeta().custom_metadata_map)
            self.meta = meta_from_props(props, source=str(self.path))
        else:
            shape = self.session.get_inputs()[0].shape if self.session.get_inputs() else []
            obs_dim = shape[-1] if shape and isinstance(shape[-1], int) else None
            self.meta = spec_meta(load_spec(spec), str(spec), obs_dim)
        try:
            check_policy_meta(self.meta)
        except SafetyError as err:
            raise SafetyError(f"{self.path}: {err}") from None
        self.input_name = self.meta.extra.get("input") or INPUT_NAME
        self.provider = self.session.get_providers()[0]
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        foreign = spec is not None
        self.output_name = self.meta.extra.get("output") or (outputs[0].name if foreign else OUTPUT_NAME)
        inp = next((i for i in inputs if i.name == self.input_name), None)
        out = next((o for o in outputs if o.name == self.output_name), None)
        if len(inputs) != 1 or inp is None or out is None:
            raise PolicyMismatchError(
                f"{self.path}: expected one input {self.input_name!r} and an output {self.output_name!r}, got "
                f"inputs {[i.name for i in inputs]} and outputs {[o.name for o in outputs]}"
                + ("; name them with input = / output = in the policy spec" if foreign else "")
            )
        check_compatible(self.meta, inp.shape[-1], out.shape[-1])
        if verbose:
            print(f"onnxruntime: running {self.path.name} on {self.provider} (offered: {providers})")

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        """Action (nu,) for one observation (obs_dim,)."""
        x = np.asarray(obs, np.float32).reshape(1, -1)
        return self.session.run([self.output_name], {self.input_name: x})[0][0]
