"""ONNX export through ``torch.onnx.export(dynamo=True)``: every tfsignal model as its ``onnx_io()``
describes it, with a JSON spec beside the graph (names, shapes, dtypes, dynamic axes, what runs
around it); parity checks with onnxruntime at two input sizes; and the one-frame streaming graph of
a streaming enhancer with its spec and a numpy runner."""

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
    "export_spec",
    "to_onnx_streaming",
    "check_streaming",
    "streaming_spec",
    "read_spec",
    "OnnxEnhancer",
    "OnnxEnhancerStream",
    "OnnxSpectralEnhancer",
    "OnnxSeparator",
    "open_enhancer",
]


def _example_inputs(model: nn.Module, inputs: Sequence[Tensor] | Tensor | None, **resize) -> tuple[Tensor, ...]:
    if inputs is None:
        if not hasattr(model, "example_inputs"):
            raise ValueError(f"{type(model).__name__} has no example_inputs(); pass inputs=")
        inputs = model.example_inputs(**resize)
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def onnx_io(model: nn.Module) -> dict | None:
    """``model.onnx_io()`` (see ``tfsignal.models.Model``), or None for a module without one."""
    try:
        return model.onnx_io() if hasattr(model, "onnx_io") else None
    except NotImplementedError:
        return None


class _Method(nn.Module):
    """forward(*args) -> model.<method>(*args): exports a method other than forward (TSPulse's embed)."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model, self.method = model, method

    def forward(self, *args: Tensor):
        return getattr(self.model, self.method)(*args)


def _export(module: nn.Module, args: tuple, path: Path, optimize: bool = False, **options) -> None:
    """``torch.onnx.export(module, args, dynamo=True, **options)`` in eval mode and without grad,
    written to a temporary file beside ``path`` and renamed into place when complete.

    A module with a recurrent layer (nn.GRU, nn.LSTM) goes through the TorchScript exporter instead,
    which writes ONNX's own GRU / LSTM op: the dynamo exporter unrolls the recurrence over every
    time step of the example (the sample tokenizer took 6 minutes, and its graph grew with the input).
    ``options["dynamic_shapes"]`` then becomes ``dynamic_axes`` by input and output name.

    ``optimize`` runs the onnxscript optimiser (constant folding, dead code, fused patterns) on the
    graph. It is off by default, as it multiplies the export time of the large offline graphs
    (tiger-tiny 142 -> 243 s); the one-frame streaming graphs take it, since there each op's
    dispatch costs as much as its arithmetic (enhancer-stream: 1.4x fewer microseconds a hop)."""
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
            if any(isinstance(m, nn.RNNBase) for m in module.modules()):
                _export_torchscript(module, args, tmp, **options)
            else:
                torch.onnx.export(module, args, dynamo=True, verbose=False, optimize=optimize, **options).save(tmp)
        publish(tmp, path)
    finally:
        quiet.setLevel(level)
        module.train(was_training)
        if os.path.exists(tmp):
            os.unlink(tmp)


def _export_torchscript(module: nn.Module, args: tuple, path: str, dynamic_shapes=None, **options) -> None:
    names = options.get("input_names") or [f"input_{i}" for i in range(len(args))]
    axes = {}
    for name, shape in zip(names, dynamic_shapes or ()):
        axes.update({name: {axis: f"{name}_{axis}" for axis in shape}} if shape else {})
    if axes:  # the outputs' sizes follow the inputs': leave every axis of theirs open
        outputs = module(*args)
        outputs = (outputs,) if isinstance(outputs, Tensor) else outputs
        out_names = options.get("output_names") or [f"output_{i}" for i in range(len(outputs))]
        axes.update({name: {a: f"{name}_{a}" for a in range(t.dim())} for name, t in zip(out_names, outputs)})
    torch.onnx.export(module, args, path, dynamo=False, verbose=False, dynamic_axes=axes or None, **options)


def _described(ports: list[dict], tensors: Sequence[Tensor]) -> list[dict]:
    """The sidecar's entry of each port: name, shape (a dynamic axis by its symbolic name), dtype, meaning."""
    out = []
    for port, tensor in zip(ports, tensors):
        shape = [port["axes"].get(axis, size) for axis, size in enumerate(tensor.shape)]
        out.append(
            {
                "name": port["name"],
                "shape": shape,
                "dtype": str(tensor.dtype).removeprefix("torch."),
                "meaning": port["meaning"],
            }
        )
    return out


def export_spec(model: nn.Module, onnx_name: str, args: tuple[Tensor, ...] | None = None) -> dict:
    """The sidecar of ``model``'s exported graph: what :meth:`~tfsignal.models.Model.onnx_io` says, with
    every input's and output's shape and dtype (measured on ``args``, default ``example_inputs()``)."""
    io = onnx_io(model)
    if io is None:
        raise ValueError(f"{type(model).__name__} has no onnx_io(); it cannot describe its graph")
    args = _example_inputs(model, args)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        outputs = getattr(model, io.get("method", "forward"))(*args)
    model.train(was_training)
    outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
    config = getattr(model, "config", None)
    extra = {k: v for k, v in io.items() if k not in ("inputs", "outputs", "method", "resize")}
    return {
        "format": "tfsignal ONNX export",
        "onnx": onnx_name,
        "model": getattr(model, "name", type(model).__name__),
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else None,
        "inputs": _described(io["inputs"], args),
        "outputs": _described(io["outputs"], outputs),
        "dynamic_axes": "the axes named in a shape may take any size (checked at two)" if "resize" in io else "none",
        **extra,
    }


def to_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    inputs: Sequence[Tensor] | Tensor | None = None,
    dynamic_axes: dict[int, Sequence[int]] | None = None,
    opset: int = 18,
    overwrite: bool = False,
) -> Path:
    """Export ``model`` (in eval mode) to ``path`` with the dynamo exporter.

    A tfsignal model is exported as its :meth:`~tfsignal.models.Model.onnx_io` describes it (input
    and output names, the method, the dynamic axes), with the conv STFT, and its spec is written
    beside the graph as ``path`` + ``.json`` (:func:`read_spec`). Any other module is exported as
    called: ``inputs`` (default ``model.example_inputs()``), and ``dynamic_axes`` mapping an input
    index to the axes whose size may change at run time (e.g. ``{0: (0, 1)}``).
    Files are written to a temporary name and renamed when complete.
    """
    path = Path(path)
    io = onnx_io(model)
    sidecar = path.with_name(path.name + ".json")
    for target in (path, sidecar) if io else (path,):
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target}: already exists (pass overwrite=True to replace it)")
    args = _example_inputs(model, inputs)
    options: dict = {"opset_version": opset}
    module = model  # its STFT takes the conv backend while exporting (tfsignal.frontends.STFT)
    if io is not None:
        method = io.get("method", "forward")
        module = module if method == "forward" else _Method(module, method).train(module.training)
        options["input_names"] = [p["name"] for p in io["inputs"]]
        options["output_names"] = [p["name"] for p in io["outputs"]]
        if dynamic_axes is None:
            dynamic_axes = {i: tuple(p["axes"]) for i, p in enumerate(io["inputs"])} if "resize" in io else {}
    if dynamic_axes:
        shapes = tuple(
            {axis: torch.export.Dim.DYNAMIC for axis in dynamic_axes.get(i, ())} or None for i in range(len(args))
        )
        options["dynamic_shapes"] = (shapes,) if isinstance(module, _Method) else shapes  # forward(*args)
    _export(module, args, path, **options)
    if io is not None:
        save_text(sidecar, json.dumps(export_spec(model, path.name, args), indent=2) + "\n", overwrite=True)
    return path


def check(
    path: str | os.PathLike,
    model: nn.Module,
    inputs: Sequence[Tensor] | Tensor | None = None,
) -> float:
    """Largest absolute difference between onnxruntime on ``path`` and ``model`` on ``inputs``
    (default: ``example_inputs()``, and for a graph with dynamic axes also the inputs of the other size
    that ``onnx_io()["resize"]`` asks for)."""
    import onnxruntime as ort

    io = onnx_io(model) or {}
    if inputs is not None:
        cases = [_example_inputs(model, inputs)]
    else:
        cases = [_example_inputs(model, None)]
        if "resize" in io:
            cases.append(_example_inputs(model, None, **io["resize"]))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    method = getattr(model, io.get("method", "forward"))
    was_training = model.training
    model.eval()
    worst = 0.0
    try:
        for args in cases:
            feeds = {i.name: a.detach().cpu().numpy() for i, a in zip(session.get_inputs(), args)}
            got = session.run(None, feeds)
            with torch.no_grad():
                want = method(*args)
            want = [want] if isinstance(want, Tensor) else list(want)
            if len(want) != len(got):
                raise ValueError(f"ONNX graph has {len(got)} outputs, the model {len(want)}")
            for g, w in zip(got, want):
                if tuple(g.shape) != tuple(w.shape):
                    raise ValueError(f"ONNX output of shape {tuple(g.shape)}, the model's {tuple(w.shape)}")
                worst = max(worst, float(np.abs(g.astype(np.float64) - w.cpu().double().numpy()).max(initial=0.0)))
    finally:
        model.train(was_training)
    return worst


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
        for m in mambas:  # the frequency path's short scans in closed form over their causal pairs: no loop
            m.scan_backend = "quadratic"
        step = _FrameStep(model).train(model.training)  # so that _export restores the model's own mode
        _export(
            step, (frame, *state), path, optimize=True, input_names=names[0], output_names=names[1], opset_version=18
        )
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


def _session(path: str | os.PathLike, threads: int = 0):
    """An onnxruntime CPU session on ``path`` with ``threads`` intra-op threads (0: onnxruntime's choice)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxEnhancerStream:
    """A streaming ONNX enhancer run by onnxruntime, with the interface of the PyTorch stream
    (``process``, ``flush``, ``delay``): the loop of examples/onnx_stream.py, in numpy.

    One onnxruntime session runs every channel, each with its own state; ``threads`` sets the
    session's intra-op threads (1: as a device would run it).
    """

    def __init__(self, path: str | os.PathLike, channels: int = 1, threads: int = 1) -> None:
        self.spec = read_spec(path)
        self.session = _session(path, threads)
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
        spec = read_spec(path)
        if not str(spec.get("format", "")).startswith("tfsignal streaming enhancer"):
            raise ValueError(f"{path}: not a streaming enhancer graph (export one with tfsignal export --streaming)")
        self.sample_rate = spec["sample_rate"]

    def stream(self, channels: int = 1) -> OnnxEnhancerStream:
        return OnnxEnhancerStream(self.path, channels, self.threads)


class OnnxSpectralEnhancer:
    """An exported offline enhancer over compressed magnitude and phase (the graph of ``tfsignal
    export enhancer``) run by onnxruntime inside the processing its spec describes: unit-RMS
    scaling, STFT, the graph, inverse STFT, the scale restored. ``sample_rate`` and
    ``enhance(wave)`` as the PyTorch model has them, so ``tfsignal enhance --backend onnx`` runs it
    chunk by chunk with overlap-add."""

    def __init__(self, path: str | os.PathLike, threads: int = 0) -> None:
        from tfsignal.frontends import STFT

        spec = read_spec(path)
        if [i["name"] for i in spec.get("inputs", ())] != ["magnitude", "phase"] or "compress_power" not in spec:
            raise ValueError(f"{path}: not an enhancer graph (export one with tfsignal export enhancer)")
        self.session = _session(path, threads)
        self.sample_rate, self.power = spec["sample_rate"], spec["compress_power"]
        self.stft = STFT(spec["n_fft"], spec["hop_length"], spec["win_length"])

    def enhance(self, wave: Tensor) -> Tensor:
        """Noisy waveform (..., time) at ``sample_rate`` -> enhanced waveform of the same shape."""
        from tfsignal.frontends import enhance_magphase

        def network(mag: Tensor, phase: Tensor) -> tuple[Tensor, Tensor]:  # (B, F, frames) each
            feeds = {"magnitude": mag.numpy(), "phase": phase.numpy()}
            mag, phase = self.session.run(["enhanced_magnitude", "enhanced_phase"], feeds)
            return torch.from_numpy(mag), torch.from_numpy(phase)

        return enhance_magphase(wave.detach().cpu().float(), self.stft, self.power, network)


def open_enhancer(path: str | os.PathLike, threads: int = 1) -> OnnxEnhancer | OnnxSpectralEnhancer:
    """The runner for an exported enhancer: the streaming graph's or the offline spectral graph's,
    as its spec says. A ValueError for any other graph."""
    spec = read_spec(path)
    if str(spec.get("format", "")).startswith("tfsignal streaming enhancer"):
        return OnnxEnhancer(path, threads)
    if [i["name"] for i in spec.get("inputs", ())] == ["magnitude", "phase"]:
        return OnnxSpectralEnhancer(path, threads)
    raise ValueError(f"{path}: not an enhancer graph (export one with tfsignal export enhancer, or --streaming)")


class OnnxSeparator:
    """An exported separator (``tfsignal export`` of a TIGER model) run by onnxruntime, called like
    the model: mixtures (n, samples) -> sources (n, n_sources, samples), with ``sample_rate`` and
    ``n_sources`` from the spec; what ``tfsignal separate --backend onnx`` runs chunk by chunk."""

    def __init__(self, path: str | os.PathLike, threads: int = 0) -> None:
        spec = read_spec(path)
        if "n_sources" not in spec or len(spec.get("inputs", ())) != 1:
            raise ValueError(f"{path}: not an exported separator (a graph from tfsignal export of a TIGER model)")
        self.session = _session(path, threads)
        self.sample_rate, self.n_sources = spec["sample_rate"], spec["n_sources"]
        self.input = spec["inputs"][0]["name"]

    def __call__(self, mixture: Tensor) -> Tensor:
        sources = self.session.run(None, {self.input: mixture.detach().cpu().float().numpy()})[0]
        return torch.from_numpy(sources)


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
