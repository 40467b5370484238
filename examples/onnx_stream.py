"""Enhance a WAV file with the streaming ONNX enhancer, one 16 ms hop at a time, as a device would.

Only numpy, soundfile and onnxruntime: this is the loop to port to a device.

    tfsignal export enhancer --streaming -o enhancer.onnx     # writes enhancer.onnx + enhancer.onnx.json
    python examples/onnx_stream.py enhancer.onnx examples/noisy.wav clean.wav

The spec beside the graph (enhancer.onnx.json) gives the frame size, the hop, every state tensor
with its initial value, and the delay of the output.
"""

import json
import sys

import numpy as np
import onnxruntime as ort
import soundfile as sf


def main(model_path: str, noisy_path: str, out_path: str) -> None:
    with open(model_path + ".json") as f:
        spec = json.load(f)
    n_fft, hop, rate, delay = spec["n_fft"], spec["hop_length"], spec["sample_rate"], spec["delay_samples"]

    audio, file_rate = sf.read(noisy_path, dtype="float32", always_2d=True)
    if file_rate != rate:
        sys.exit(f"{noisy_path}: {file_rate} Hz; resample to {rate} Hz first")
    audio = audio.mean(axis=1)  # mono

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # one small frame per call
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    states = {
        s["name"]: np.full(s["shape"], s["initial_value"], np.float32) for s in spec["inputs"] if s["name"] != "frame"
    }
    window = np.sqrt(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)

    # feed `delay` zeros after the file so its last samples come out, then drop the first `delay`
    padded = np.concatenate([audio, np.zeros(delay + (-(len(audio) + delay)) % hop, np.float32)])
    history = np.zeros(n_fft - hop, np.float32)  # the last n_fft - hop input samples
    overlap = np.zeros(n_fft - hop, np.float32)  # the synthesis tail still waiting for later frames
    out = []
    for start in range(0, len(padded), hop):
        samples = padded[start : start + hop]  # what a device's audio callback hands over
        frame = np.concatenate([history, samples])
        history = frame[hop:]
        spectrum = np.fft.rfft(frame * window)
        feeds = {"frame": np.stack([spectrum.real, spectrum.imag], axis=-1)[None].astype(np.float32), **states}
        enhanced, *new_states = session.run(None, feeds)
        states = dict(zip(states, new_states))
        frame_out = np.fft.irfft(enhanced[0, :, 0] + 1j * enhanced[0, :, 1], n_fft).astype(np.float32) * window
        total = np.concatenate([overlap, np.zeros(hop, np.float32)]) + frame_out
        out.append(total[:hop])  # finished samples: play them
        overlap = total[hop:]
    enhanced_audio = np.concatenate(out)[delay : delay + len(audio)]
    sf.write(out_path, enhanced_audio, rate)
    print(f"{out_path}: {len(audio) / rate:.1f} s, output delay {1000 * delay / rate:.0f} ms removed")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: python examples/onnx_stream.py MODEL.onnx NOISY.wav OUT.wav")
    main(*sys.argv[1:])
