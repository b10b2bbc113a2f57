"""Command line for how far to trust an explanation: attribute (one method's map), sanity (the randomisation
test) and flip (the smallest change that flips the prediction). Registered by fmnist_core.cli.commands."""

from __future__ import annotations

import argparse
from typing import Any

from fmnist_core.cli.common import CliError, _emit, _index, _load, _whole
from fmnist_core.data import fashion_mnist


def _class(value: str) -> int:
    number = _whole(value)
    if not 0 <= number < len(fashion_mnist.CLASS_NAMES):
        raise argparse.ArgumentTypeError(f"a class is 0 to {len(fashion_mnist.CLASS_NAMES) - 1}, not {number}")
    return number


METHOD_NAMES = ("gradcam", "saliency", "integrated-gradients", "occlusion")  # fmnist_core.explain.METHODS, unimported


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """attribute, sanity and flip: an explanation's map, whether it survives a destroyed model, the smallest flip."""
    attr = sub.add_parser("attribute", parents=[common], help="one explanation map of a test image")
    attr.add_argument("--index", type=_index, required=True, help="test image")
    attr.add_argument("--method", choices=METHOD_NAMES, required=True)
    attr.add_argument(
        "--class", dest="class_index", type=_class, default=None, help="class to explain (default: predicted)"
    )
    attr.add_argument("--patch", type=_whole, default=6, help="occlusion: square side in pixels, 2..14 (default 6)")
    attr.add_argument("--stride", type=_whole, default=2, help="occlusion: step in pixels, 1..patch (default 2)")
    sanity = sub.add_parser(
        "sanity", parents=[common], help="randomisation test: the map as layers are re-initialised from the output down"
    )
    sanity.add_argument("--index", type=_index, required=True, help="test image")
    sanity.add_argument("--method", choices=METHOD_NAMES, required=True)
    sanity.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")
    flip = sub.add_parser("flip", parents=[common], help="the smallest L-infinity change that flips the prediction")
    flip.add_argument("--index", type=_index, required=True, help="test image")
    flip.add_argument("--target", type=_class, default=None, help="ask for this class instead of any other")


def _grid(values: Any) -> list[list[float]]:
    """A 2-D array as rows of plain floats (JSON)."""
    return [[float(v) for v in row] for row in values]


def _test_image(args: argparse.Namespace) -> tuple[Any, Any]:
    test = fashion_mnist.load_test_set(args.data_dir)
    return _load(args), test.images[args.index]


def cmd_attribute(args: argparse.Namespace) -> None:
    from fmnist_core.explain.attributions import attribute

    model, image = _test_image(args)
    try:
        result = attribute(model, image, args.class_index, args.method, patch=args.patch, stride=args.stride)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    payload: dict[str, Any] = {"method": result.method, "class": result.class_index, "map": _grid(result.map)}
    name = fashion_mnist.CLASS_NAMES[result.class_index]
    row, col = divmod(int(abs(result.map).argmax()), 28)
    lines = [
        f"{result.method} of test image {args.index} for class {result.class_index} {name}: "
        f"strongest at row {row}, col {col} ({result.map[row, col]:+.4g}); {result.seconds:.2f} s"
    ]
    if result.grid is not None:
        payload["grid"] = _grid(result.grid)
        rows, cols = result.grid.shape
        lines.append(f"  {rows}x{cols} patch positions; largest drop in p {result.grid.max():+.4f}")
    if result.completeness is not None:
        total, difference = result.completeness
        payload["completeness"] = {"sum": total, "difference": difference}
        lines.append(f"  completeness: sum of attributions {total:.4f}, p(image) - p(black) {difference:.4f}")
    _emit(args, payload, "\n".join(lines))


def cmd_sanity(args: argparse.Namespace) -> None:
    from fmnist_core.explain.attributions import available_methods
    from fmnist_core.explain.sanity import randomisation_test

    model, image = _test_image(args)
    if args.method not in available_methods(model):
        raise CliError(f"{args.method} cannot explain this model: it has no conv layer")
    result = randomisation_test(model, image, methods=[args.method], seed=args.seed)
    steps = [{"randomised": list(s.randomised), "spearman": s.spearman[args.method]} for s in result.steps[1:]]
    lines = [
        f"{args.method}, test image {args.index}, class {result.class_index}: rank correlation with the trained map"
    ]
    for step in steps:
        rho = "undefined (blank map)" if step["spearman"] is None else f"{step['spearman']:+.3f}"
        lines.append(f"  {len(step['randomised'])} layer(s) randomised, down to {step['randomised'][-1]:<18} {rho}")
    lines.append("An explanation that does not change when the model is destroyed is not explaining the model.")
    _emit(args, {"method": args.method, "steps": steps}, "\n".join(lines))


def cmd_flip(args: argparse.Namespace) -> None:
    from fmnist_core.explain.flip import MAX_LEVELS, smallest_flip

    model, image = _test_image(args)
    try:
        found = smallest_flip(model, image, target=args.target)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    payload = {
        "epsilon": found.epsilon,
        "predicted_before": found.predicted_before,
        "predicted_after": found.predicted_after,
        "image": _grid(found.image) if found.image is not None else None,
    }
    before = f"{found.predicted_before} {fashion_mnist.CLASS_NAMES[found.predicted_before]}"
    if found.epsilon is None:
        wanted = f" into class {args.target}" if args.target is not None else ""
        text = f"test image {args.index} ({before}): no change up to {MAX_LEVELS}/255 flips it{wanted}"
    else:
        after = f"{found.predicted_after} {fashion_mnist.CLASS_NAMES[found.predicted_after]}"
        text = (
            f"test image {args.index}: {before} -> {after} with every pixel moved at most "
            f"{found.levels}/255 = {found.epsilon:.4f}"
        )
    _emit(args, payload, text)


COMMANDS = {"attribute": cmd_attribute, "sanity": cmd_sanity, "flip": cmd_flip}
