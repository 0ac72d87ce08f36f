"""Training-step cost: single-decoder U-Net vs the multi-decoder model (both decoders) vs a
staged stage that trains one decoder, side by side in one run, with FLOPs counted by
torch.utils.flop_counter. Prints time ratios next to FLOPs ratios.

    python benchmarks/bench_train.py --encoder resnet50 --size 256 --batch 8
    python benchmarks/bench_train.py --encoder resnet50 --size 512 --device cuda --amp --channels-last --compile
"""
from __future__ import annotations

import segmentation_models_pytorch as smp
import torch
from torch.utils.flop_counter import FlopCounterMode

from mdseg import MultiDecoderUNet
from mdseg.runtime.device import pick_device
from mdseg.training.config import TrainConfig
from mdseg.training.schedule import JOINT_WEIGHTS, Stage
from mdseg.training.step import compute_losses

from common import machine, model_parser, time_interleaved


def main() -> None:
    parser = model_parser(__doc__, batch=8, steps=10)
    parser.add_argument("--amp", action="store_true", help="autocast (bf16 where supported) on CUDA")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models (after counting FLOPs)")
    args = parser.parse_args()
    device = pick_device(args.device)
    torch.manual_seed(0)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    single = smp.Unet(args.encoder, encoder_weights=None, classes=21).to(device, memory_format=fmt).train()
    multi = MultiDecoderUNet(args.encoder, encoder_weights=None).to(device, memory_format=fmt).train()
    x = torch.randn(args.batch, 3, args.size, args.size, device=device).contiguous(memory_format=fmt)
    batch = {"mask": torch.randint(0, 21, (args.batch, args.size, args.size), device=device),
             "depth": torch.rand(args.batch, 1, args.size, args.size, device=device)}
    config = TrainConfig()  # the training loop's losses: focal (gamma 2) and depth MSE
    amp = torch.autocast(device.type, dtype=torch.bfloat16) if args.amp and device.type == "cuda" else None
    opts = {"single": torch.optim.Adam(single.parameters(), 1e-4), "multi": torch.optim.Adam(multi.parameters(), 1e-4)}

    def step(model_name: str, stage: Stage):
        model, opt = (single, opts["single"]) if model_name == "single" else (multi, opts["multi"])

        def run():
            opt.zero_grad(set_to_none=True)
            with amp or torch.autocast(device.type, enabled=False):
                out = {"seg": model(x)} if model_name == "single" else model(x, tasks=stage.tasks)
            compute_losses(out, batch, stage, config)["total"].backward()
            opt.step()
        return run

    seg_only = Stage("seg", {"seg": 1.0}, 1)
    contenders = {"single-decoder U-Net": step("single", seg_only),
                  "multi-decoder, both decoders": step("multi", Stage("both", dict(JOINT_WEIGHTS), 1)),
                  "multi-decoder, one-decoder stage": step("multi", seg_only)}
    flops = {}
    for name, fn in contenders.items():
        with FlopCounterMode(display=False) as counter:
            fn()
        flops[name] = counter.get_total_flops()
    if args.compile:
        single, multi = torch.compile(single), torch.compile(multi)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = time_interleaved(contenders, device, args.steps, args.warmup)
    base = "single-decoder U-Net"
    print(f"# bench_train: {args.encoder}, {args.size} px, batch {args.batch}, amp={args.amp}, "
          f"channels_last={args.channels_last}, compile={args.compile}, {machine(device)}")
    print(f"{'':34}{'ms/step':>10}{'img/s':>9}{'GFLOP':>9}{'time ratio':>12}{'FLOP ratio':>12}")
    for name in contenders:
        print(f"{name:34}{1000 * times[name]:>10.1f}{args.batch / times[name]:>9.1f}{flops[name] / 1e9:>9.1f}"
              f"{times[name] / times[base]:>12.3f}{flops[name] / flops[base]:>12.3f}")
    if device.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB; multi-decoder, both decoders: "
              f"{flops['multi-decoder, both decoders'] / times['multi-decoder, both decoders'] / 1e12:.1f} TFLOP/s")


if __name__ == "__main__":
    main()
