"""ONNX export through ``torch.onnx.export(dynamo=True)``, parity checks with onnxruntime, and the
streaming graph of a streaming enhancer with its JSON spec and a numpy runner."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from tfsignal.io import publish, save_text

__all__ = [
    "to_onnx",
    "check",
    "to_onnx_streaming",
    "check_streaming",
    "streaming_spec",
    "read_spec",
    "OnnxEnhancer",
    "OnnxEnhancerStream",
]


def _example_inputs(model: nn.Module, inputs: Sequence[Tensor] | Tensor | None) -> tuple[Tensor, ...]:
    if inputs is None:
        if not hasattr(model, "example_inputs"):
            raise ValueError(f"{type(model).__name__} has no example_inputs(); pass inputs=")
        inputs = model.example_inputs()
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _export(module: nn.Module, args: tuple, path: Path, **options) -> None:
    """``torch.onnx.export(module, args, dynamo=True, **options)`` in eval mode and without grad,
    written to a temporary file beside ``path`` and renamed into place when complete."""
    was_training = module.training
    module.eval()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx", dir=path.parent or ".")
    os.close(fd)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    try:
        quiet.setLevel(logging.ERROR)  # the exporter logs one line per missing optional op set
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, dynamo=True, verbose=False, **options).save(tmp)
        publish(tmp, path)
    finally:
        quiet.setLevel(level)
        module.train(was_training)
        if os.path.exists(tmp):
            os.unlink(tmp)


def to_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    inputs: Sequence[Tensor] | Tensor | None = None,
    dynamic_axes: dict[int, Sequence[int]] | None = None,
    opset: int = 18,
    overwrite: bool = False,
) -> Path:
    """Export ``model`` (in eval mode) to ``path`` with the dynamo exporter.

    ``inputs`` default to ``model.example_inputs()``. ``dynamic_axes`` maps an input index to
    ``{axis: name}`` for axes whose size may change at run time (e.g. ``{0: {0: "batch"}}``).
    The file is written to a temporary name and renamed when complete.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    args = _example_inputs(model, inputs)
    dynamic_shapes = None
    if dynamic_axes:
        dynamic_shapes = tuple(
            {axis: torch.export.Dim.DYNAMIC for axis in dynamic_axes.get(i, ())} or None for i in range(len(args))
        )
    _export(model, args, path, dynamic_shapes=dynamic_shapes, opset_version=opset)
    return path


def check(
    path: str | os.PathLike,
    model: nn.Module,
    inputs: Sequence[Tensor] | Tensor | None = None,
) -> float:
    """Largest absolute difference between onnxruntime on ``path`` and ``model`` on ``inputs``."""
    import onnxruntime as ort

    args = _example_inputs(model, inputs)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {i.name: a.detach().cpu().numpy() for i, a in zip(session.get_inputs(), args)}
    got = session.run(None, feeds)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        want = model(*args)
    model.train(was_training)
    want = [want] if isinstance(want, Tensor) else list(want)
    if len(want) != len(got):
        raise ValueError(f"ONNX graph has {len(got)} outputs, the model {len(want)}")
    return max(float(np.abs(g - w.cpu().numpy()).max()) for g, w in zip(got, want))


# ------------------------------------------------------------------------------ streaming graphs


class _FrameStep(nn.Module):
    """forward(frame, *state) -> (enhanced frame, *new state): a streaming model's step_frame with
    its state as explicit tensors, the form a device runs one hop at a time."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, frame: Tensor, *state: Tensor) -> tuple[Tensor, ...]:
        out, new_state = self.model.step_frame(frame, list(state))
        return (out, *new_state)


def streaming_spec(model: nn.Module, onnx_name: str) -> dict:
    """What a device needs to run ``model``'s streaming graph: names, shapes, dtypes and initial
    values of every input and output, the framing around the graph, and the pre- and post-processing."""
    cfg = model.config
    state = model.initial_state(1)
    fills = []
    for i, s in enumerate(state):
        values = s.unique()
        if values.numel() != 1:
            raise ValueError(f"state {i} does not start from one value; the spec cannot describe it")
        fills.append(float(values[0]))
    n_freq = cfg.n_fft // 2 + 1
    return {
        "format": "tfsignal streaming enhancer, one STFT frame per call",
        "onnx": onnx_name,
        "model": model.name,
        "config": dataclasses.asdict(cfg),
        "sample_rate": cfg.sample_rate,
        "n_fft": cfg.n_fft,
        "hop_length": cfg.hop_length,
        "window": "periodic Hann, square-rooted (sqrt(hann_window(n_fft, periodic=True))), for analysis and synthesis",
        "delay_samples": model.latency,
        "algorithmic_latency_ms": 1000 * cfg.n_fft / cfg.sample_rate,
        "inputs": [
            {
                "name": "frame",
                "shape": [1, n_freq, 2],
                "dtype": "float32",
                "meaning": "rfft of the windowed frame: [..., 0] real, [..., 1] imaginary",
            }
        ]
        + [
            {"name": f"state_{i}", "shape": list(s.shape), "dtype": "float32", "initial_value": fills[i]}
            for i, s in enumerate(state)
        ],
        "outputs": [
            {"name": "enhanced", "shape": [1, n_freq, 2], "dtype": "float32", "meaning": "enhanced frame, same layout"}
        ]
        + [
            {"name": f"state_{i}_out", "shape": list(s.shape), "dtype": "float32", "feeds": f"state_{i}"}
            for i, s in enumerate(state)
        ],
        "preprocess": (
            f"mono float32 samples in [-1, 1] at {cfg.sample_rate} Hz (resample first); no level normalisation. "
            f"Keep the last {cfg.n_fft - cfg.hop_length} samples; each call takes {cfg.hop_length} new samples, "
            f"forms the {cfg.n_fft}-sample frame (kept samples first), multiplies it by the window and takes its rfft."
        ),
        "postprocess": (
            f"irfft (n={cfg.n_fft}) of 'enhanced', times the window, overlap-added at hop {cfg.hop_length}: the first "
            f"{cfg.hop_length} samples of the running sum are finished output. The output is the input delayed by "
            f"{model.latency} samples; feed {model.latency} more samples of zeros at the end to flush it."
        ),
        "states": "start every state_i at its initial_value (all elements); after each call feed state_i_out "
        "back as state_i",
    }


def to_onnx_streaming(model: nn.Module, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Export a streaming model's one-frame step (``model.step_frame``) to ``path`` and its spec to
    ``path`` + ``.json``. The graph holds no Loop or Scan op and does not depend on any signal length."""
    from tfsignal.nn import Mamba

    path = Path(path)
    sidecar = path.with_name(path.name + ".json")
    for target in (path, sidecar):
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target}: already exists (pass overwrite=True to replace it)")
    if not hasattr(model, "step_frame"):
        raise ValueError(f"{type(model).__name__} has no streaming form (step_frame); export it without streaming")
    spec = streaming_spec(model, path.name)
    frame = torch.zeros(1, model.config.n_fft // 2 + 1, 2)
    state = model.initial_state(1)
    names = [i["name"] for i in spec["inputs"]], [o["name"] for o in spec["outputs"]]
    mambas = [m for m in model.modules() if isinstance(m, Mamba)]
    backends = [m.scan_backend for m in mambas]
    try:
        for m in mambas:  # the frequency path's short scans as one masked matrix product: no loop
            m.scan_backend = "quadratic"
        step = _FrameStep(model).train(model.training)  # so that _export restores the model's own mode
        _export(step, (frame, *state), path, input_names=names[0], output_names=names[1], opset_version=18)
    finally:
        for m, backend in zip(mambas, backends):
            m.scan_backend = backend
    save_text(sidecar, json.dumps(spec, indent=2) + "\n", overwrite=True)
    return path


def read_spec(path: str | os.PathLike) -> dict:
    """The JSON spec written beside an exported graph (``model.onnx.json`` for ``model.onnx``)."""
    path = Path(path)
    sidecar = path if path.name.endswith(".onnx.json") else path.with_name(path.name + ".json")
    if not sidecar.exists():
        raise FileNotFoundError(f"{sidecar}: no spec beside {path.name} (export it with tfsignal export)")
    return json.loads(sidecar.read_text())


class OnnxEnhancerStream:
    """A streaming ONNX enhancer run by onnxruntime, with the interface of the PyTorch stream
    (``process``, ``flush``, ``delay``): the loop of examples/onnx_stream.py, in numpy.

    One onnxruntime session runs every channel, each with its own state; ``threads`` sets the
    session's intra-op threads (1: as a device would run it).
    """

    def __init__(self, path: str | os.PathLike, channels: int = 1, threads: int = 1) -> None:
        import onnxruntime as ort

        self.spec = read_spec(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.channels, self.hop, self.n_fft = channels, self.spec["hop_length"], self.spec["n_fft"]
        self.delay, self.sample_rate = self.spec["delay_samples"], self.spec["sample_rate"]
        self.window = np.sqrt(np.hanning(self.n_fft + 1)[:-1]).astype(np.float32)  # periodic
        self.reset()

    def reset(self) -> None:
        overlap = self.n_fft - self.hop
        self.analysis = np.zeros((self.channels, overlap), np.float32)
        self.synthesis = np.zeros((self.channels, overlap), np.float32)
        states = [i for i in self.spec["inputs"] if i["name"] != "frame"]
        self.states = [
            {s["name"]: np.full(s["shape"], s["initial_value"], np.float32) for s in states}
            for _ in range(self.channels)
        ]
        self.pending = np.zeros((self.channels, 0), np.float32)
        self.received, self.one_d = 0, self.channels == 1

    def _frame(self, channel: int, samples: np.ndarray) -> np.ndarray:
        """``hop`` new samples of one channel -> ``hop`` finished output samples."""
        signal = np.concatenate([self.analysis[channel], samples])  # (n_fft,)
        self.analysis[channel] = signal[self.hop :]
        spectrum = np.fft.rfft(signal * self.window)
        feeds = {"frame": np.stack([spectrum.real, spectrum.imag], -1)[None].astype(np.float32), **self.states[channel]}
        enhanced, *new_states = self.session.run(None, feeds)
        self.states[channel] = {name: s for name, s in zip(self.states[channel], new_states)}
        out = np.fft.irfft(enhanced[0, :, 0] + 1j * enhanced[0, :, 1], self.n_fft).astype(np.float32) * self.window
        total = np.concatenate([self.synthesis[channel], np.zeros(self.hop, np.float32)]) + out
        self.synthesis[channel] = total[self.hop :]
        return total[: self.hop]

    def process(self, samples) -> np.ndarray:
        """Samples (time,) or (channels, time), any count -> the output samples they finish, same layout."""
        samples = np.asarray(samples, dtype=np.float32)
        self.one_d = samples.ndim == 1
        samples = samples.reshape(1, -1) if self.one_d else samples
        if samples.shape[0] != self.channels:
            raise ValueError(f"this stream carries {self.channels} channel(s), got {samples.shape[0]}")
        self.received += samples.shape[-1]
        self.pending = np.concatenate([self.pending, samples], axis=-1)
        out = []
        while self.pending.shape[-1] >= self.hop:
            hop, self.pending = self.pending[:, : self.hop], self.pending[:, self.hop :]
            out.append(np.stack([self._frame(c, hop[c]) for c in range(self.channels)]))
        out = np.concatenate(out, axis=-1) if out else np.zeros((self.channels, 0), np.float32)
        return out[0] if self.one_d else out

    def flush(self) -> np.ndarray:
        """The samples still inside the window (zeros fed after the input); resets the stream."""
        emitted = (self.received // self.hop) * self.hop
        wanted = self.received + self.delay - emitted
        one_d = self.one_d
        tail = self.process(np.zeros((self.channels, -(-wanted // self.hop) * self.hop - self.pending.shape[-1])))
        self.reset()
        return tail[0, :wanted] if one_d else tail[:, :wanted]


class OnnxEnhancer:
    """An exported streaming enhancer as ``tfsignal enhance --backend onnx`` uses it: ``sample_rate``
    and ``stream(channels)``."""

    def __init__(self, path: str | os.PathLike, threads: int = 1) -> None:
        self.path, self.threads = Path(path), threads
        self.sample_rate = read_spec(path)["sample_rate"]

    def stream(self, channels: int = 1) -> OnnxEnhancerStream:
        return OnnxEnhancerStream(self.path, channels, self.threads)


def check_streaming(path: str | os.PathLike, model: nn.Module, seconds: float = 10.0, seed: int = 0) -> float:
    """Largest absolute difference between the exported streaming graph (run hop by hop by
    :class:`OnnxEnhancerStream`) and ``model.enhance`` on ``seconds`` of noise-like test signal."""
    rng = np.random.default_rng(seed)
    n = round(seconds * model.sample_rate)
    x = (0.1 * rng.standard_normal(n) * (1 + np.sin(np.arange(n) / 800))).astype(np.float32)
    stream = OnnxEnhancerStream(path)
    got = np.concatenate([stream.process(x), stream.flush()])[stream.delay :]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        want = model.enhance(torch.from_numpy(x)).numpy()
    model.train(was_training)
    return float(np.abs(got - want).max())
