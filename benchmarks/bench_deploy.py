"""Deployment cost: the model from ``to_single_decoder()`` against a freshly built ``smp.Unet``
of the same encoder (parameters, output equality, latency ratio in one run), and the ONNX
export checked against PyTorch with onnxruntime.

    python benchmarks/bench_deploy.py --encoder resnet50 --size 256
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import segmentation_models_pytorch as smp
import torch

from mdseg import MultiDecoderUNet
from mdseg.runtime.device import pick_device

from common import machine, model_parser, time_interleaved


def main() -> None:
    args = model_parser(__doc__, batch=1, steps=20).parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    multi = MultiDecoderUNet(args.encoder, encoder_weights=None).eval()
    deployed = multi.to_single_decoder().to(device).eval()
    fresh = smp.Unet(args.encoder, encoder_weights=None, classes=21).to(device).eval()
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    with torch.no_grad():
        diff = (deployed(x) - multi.to(device)(x, tasks=("seg",))["seg"]).abs().max().item()
        times = time_interleaved({"deployed": lambda: deployed(x), "fresh smp.Unet": lambda: fresh(x)},
                                 device, args.steps, args.warmup)
    print(f"# bench_deploy: {args.encoder}, {args.size} px, batch {args.batch}, {machine(device)}")
    print(f"parameters: deployed {count(deployed):,}, fresh smp.Unet {count(fresh):,}, "
          f"multi-decoder {count(multi):,}")
    print(f"max |deployed - multi-decoder seg| = {diff:.3g}")
    print(f"latency: deployed {1000 * times['deployed']:.1f} ms, fresh {1000 * times['fresh smp.Unet']:.1f} ms, "
          f"ratio {times['deployed'] / times['fresh smp.Unet']:.3f}")
    try:
        import onnxruntime as ort
    except ImportError:
        print("onnxruntime not installed: ONNX check skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "unet.onnx"
        cpu_model, cpu_x = deployed.cpu(), x.cpu()
        torch.onnx.export(cpu_model, cpu_x, str(path), input_names=["image"], output_names=["logits"], dynamo=False)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"image": cpu_x.numpy()})
        with torch.no_grad():
            ref = cpu_model(cpu_x).numpy()
        with torch.no_grad():
            t = time_interleaved({"onnxruntime": lambda: session.run(None, {"image": cpu_x.numpy()}),
                                  "pytorch": lambda: cpu_model(cpu_x)}, torch.device("cpu"), args.steps, args.warmup)
        print(f"ONNX vs PyTorch (CPU): max abs diff {abs(out - ref).max():.3g}; onnxruntime "
              f"{1000 * t['onnxruntime']:.1f} ms, PyTorch {1000 * t['pytorch']:.1f} ms, "
              f"ratio {t['onnxruntime'] / t['pytorch']:.3f}")


if __name__ == "__main__":
    main()
