"""GPU speed of ``EvalSet.from_model`` (ResNet-50) and ``ClipEncoder.encode_images`` (ViT-B-32),
each against the raw forward pass of the same model on device-resident tensors, same run.

    .venv/bin/python benchmarks/bench_gpu.py [--n 8192] [--size 224] [--device cuda]
        [--batch-size 256] [--repeats 3] [--precisions fp32,bf16]
    .venv/bin/python benchmarks/bench_gpu.py --device cpu --n 64 --size 64   # smoke check

The images are ``n`` random uint8 images of ``size`` px in host memory: (N, 3, S, S) in a
``TensorDataset`` for ``from_model`` (ImageNet mean/std applied on the device) and
(N, S, S, 3) for ``encode_images`` (open_clip's own preprocessing, resized to 224 px on the
device). Models are randomly initialised (torchvision ``weights=None``, open_clip
``pretrained=None``): no download, and the timing depends only on the architecture.

"raw" is ``model(x)`` (``model.encode_image(x)``) over batches of ``batch_size`` slices of
an already preprocessed float32 tensor on the device, with nothing copied back; "bf16" runs
both sides under ``torch.autocast(dtype=torch.bfloat16)``. Each figure is the best of
``repeats`` timed calls after one warm-up, with ``torch.cuda.synchronize`` around each.
The ratio is (our img/s) / (raw img/s) at the same precision; target >= 0.8 on a GPU.
Also timed: ``from_model`` over a user-made DataLoader (workers, pinned memory), and a
repeated ``encode_images`` call (a cache hit). Prints the figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRECISIONS = {"fp32": None, "bf16": "bf16"}


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_time(fn, device, repeats: int) -> float:
    """Best wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return min(times)


def raw_forward(forward, x, batch_size: int, device, precision: str) -> None:
    """The raw pass: ``forward`` over device-resident batches, nothing copied back."""
    import torch

    from failwidgets.inference import autocast_context, resolve_autocast

    with torch.inference_mode(), autocast_context(device, resolve_autocast(PRECISIONS[precision])):
        for start in range(0, len(x), batch_size):
            forward(x[start : start + batch_size])


def bench_from_model(args, device, images_nchw, labels, figures) -> None:
    import torch
    import torchvision
    from torch.utils.data import DataLoader, TensorDataset

    from failwidgets.data import EvalSet
    from failwidgets.inference import default_num_workers

    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).to(device).eval()
    names = [f"class_{i}" for i in range(1000)]
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    x = (images_nchw.to(device).float() / 255.0 - mean) / std
    dataset = TensorDataset(images_nchw, labels)
    workers = default_num_workers(device)
    loader = DataLoader(
        dataset, batch_size=args.batch_size, num_workers=workers, pin_memory=device.type == "cuda"
    )
    n = len(images_nchw)
    for precision in args.precisions:
        autocast = PRECISIONS[precision]

        def ours(data=dataset, autocast=autocast):
            return EvalSet.from_model(
                model,
                data,
                names,
                batch_size=args.batch_size,
                device=device,
                progress=False,
                autocast=autocast,
                mean=IMAGENET_MEAN,
                std=IMAGENET_STD,
            )

        raw_s = best_time(
            lambda p=precision: raw_forward(model, x, args.batch_size, device, p),
            device,
            args.repeats,
        )
        ours_s = best_time(ours, device, args.repeats)
        loader_s = best_time(lambda o=ours: o(loader), device, args.repeats)
        figures[f"from_model_raw_{precision}_img_s"] = n / raw_s
        figures[f"from_model_{precision}_img_s"] = n / ours_s
        figures[f"from_model_{precision}_ratio"] = raw_s / ours_s
        figures[f"from_model_loader_{precision}_img_s"] = n / loader_s
        figures[f"from_model_loader_{precision}_ratio"] = raw_s / loader_s
        print(
            f"from_model ResNet-50 {precision}: raw {n / raw_s:,.0f} img/s, from_model "
            f"{n / ours_s:,.0f} img/s (ratio {raw_s / ours_s:.2f}), over a DataLoader with "
            f"{workers} workers {n / loader_s:,.0f} img/s (ratio {raw_s / loader_s:.2f})"
        )


def bench_encode_images(args, device, images_nhwc, figures) -> None:
    import open_clip
    import torch

    from failwidgets.features.clip import ClipEncoder

    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=None)
    tokenizer = open_clip.get_tokenizer("ViT-B-32")
    model = model.to(device).eval()

    def encoder(autocast):
        return ClipEncoder(
            model,
            preprocess,
            tokenizer,
            device=device,
            batch_size=args.batch_size,
            progress=False,
            autocast=autocast,
        )

    prep = encoder(None)
    x = torch.cat(
        [
            prep.preprocess_batch(images_nhwc[start : start + args.batch_size])
            for start in range(0, len(images_nhwc), args.batch_size)
        ]
    )
    n = len(images_nhwc)
    for precision in args.precisions:
        autocast = PRECISIONS[precision]
        raw_s = best_time(
            lambda p=precision: raw_forward(model.encode_image, x, args.batch_size, device, p),
            device,
            args.repeats,
        )
        ours = encoder(autocast)

        def uncached(ours=ours):
            ours.clear_cache()  # every timed call computes the embeddings
            return ours.encode_images(images_nhwc)

        ours_s = best_time(uncached, device, args.repeats)
        figures[f"encode_images_raw_{precision}_img_s"] = n / raw_s
        figures[f"encode_images_{precision}_img_s"] = n / ours_s
        figures[f"encode_images_{precision}_ratio"] = raw_s / ours_s
        print(
            f"encode_images ViT-B-32 {precision}: raw {n / raw_s:,.0f} img/s, encode_images "
            f"{n / ours_s:,.0f} img/s (ratio {raw_s / ours_s:.2f})"
        )
    start = time.perf_counter()
    ours.encode_images(images_nhwc)
    figures["encode_images_cache_hit_s"] = time.perf_counter() - start
    print(f"encode_images again (cache hit): {figures['encode_images_cache_hit_s']:.3f} s")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=8192, help="images")
    parser.add_argument("--size", type=int, default=224, help="image side in pixels")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per figure")
    parser.add_argument(
        "--precisions", default="fp32,bf16", help="comma-separated, from: fp32, bf16"
    )
    args = parser.parse_args(argv)
    args.precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    unknown = sorted(set(args.precisions) - set(PRECISIONS))
    if unknown or not args.precisions:
        parser.error(f"--precisions: unknown {unknown}; choose from {sorted(PRECISIONS)}")

    import torch

    from failwidgets.inference import default_device

    device = torch.device(args.device or default_device())
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    images_nchw = torch.randint(
        0, 256, (args.n, 3, args.size, args.size), generator=gen, dtype=torch.uint8
    )
    labels = torch.randint(0, 1000, (args.n,), generator=gen)
    images_nhwc = images_nchw.permute(0, 2, 3, 1).contiguous().numpy()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"{args.n} uint8 images of {args.size} px, batch {args.batch_size}, on {name}")
    figures: dict = {"n": args.n, "size": args.size, "device": name, "batch_size": args.batch_size}
    try:
        bench_from_model(args, device, images_nchw, labels, figures)
        bench_encode_images(args, device, images_nhwc, figures)
    finally:
        torch.set_num_threads(threads)
    line = {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}
    print(json.dumps(line))
    return line


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    main()
