"""What training the members of an ensemble together would save (issue 25): the cost of
forecastr's training loop with --ensemble 1, 3 and 5, and, for the recurrent encoder that
dominates it, the ways of running M members at once against running them one after another:

- loop: each member's own nn.GRU / nn.LSTM, one after another (what forecastr does);
- wide: one recurrent layer M times as wide whose weights are the members' own, assembled
  on every call (input weights stacked, hidden weights block-diagonal), so that a single
  call of torch's recurrent kernel runs every member;
- bmm: the cell written out step by step, the members' matrix products batched (bmm);
- vmap: torch.func.vmap over the members' stacked parameters (torch.func's
  stack_module_state), where torch has a batching rule for the recurrent kernel.

Every way is checked against the loop: the same weights must give the same final states.

Run: python bench/ensembles.py [--device cuda] [--threads N]; writes
bench/results/ensembles.md and .json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from bench.throughput import Case, _sync, forecastr_rate, setup  # noqa: E402

MEMBERS = (1, 3, 5)
GATES = {"gru": 3, "lstm": 4}
# forecastr's default monthly fit (window 36, hidden 64), and an hourly window
LOOP_CASES = [Case("gru", 36, 64, 256, horizon=18), Case("lstm", 36, 64, 256, horizon=18),
              Case("gru", 168, 64, 256, horizon=48)]
ENCODER_BATCHES = (64, 256, 1024)


def layers(cell: str, members: int, inputs: int, hidden: int) -> list[nn.Module]:
    torch.manual_seed(0)
    kind = nn.GRU if cell == "gru" else nn.LSTM
    return [kind(inputs, hidden, batch_first=True) for _ in range(members)]


def loop(members: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """(M, B, D) every member's final hidden state, one member after another."""
    return torch.stack([_final(member(x)[1]) for member in members])


def wide(members: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The same, from one recurrent layer M times as wide."""
    gates, hidden = GATES[_cell(members[0])], members[0].hidden_size

    def per_gate(name: str, join: Callable[..., torch.Tensor]) -> torch.Tensor:
        # torch orders a layer's rows gate by gate; the wide layer's gate g holds every
        # member's rows of gate g, member by member
        return torch.cat([join(*[getattr(m, name)[g * hidden:(g + 1) * hidden]
                                 for m in members]) for g in range(gates)])

    stack = lambda *parts: torch.cat(parts)  # noqa: E731
    weights = [per_gate("weight_ih_l0", stack), per_gate("weight_hh_l0", torch.block_diag),
               per_gate("bias_ih_l0", stack), per_gate("bias_hh_l0", stack)]
    start = x.new_zeros(1, len(x), len(members) * hidden)
    # (x, h0, weights, biases, layers, dropout, training, bidirectional, batch_first)
    if gates == 3:
        _, state = torch._VF.gru(x, start, weights, True, 1, 0.0, True, False, True)
    else:  # output, h, c
        state = torch._VF.lstm(x, (start, start), weights, True, 1, 0.0, True, False, True)[1]
    return _final(state).view(len(x), len(members), hidden).transpose(0, 1)


def bmm(members: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The same, the cell written out, the members' products batched step by step."""
    gates, hidden = GATES[_cell(members[0])], members[0].hidden_size
    stacked = {name: torch.stack([getattr(m, name) for m in members])
               for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}
    ahead = torch.einsum("bln,mgn->mblg", x, stacked["weight_ih_l0"]) \
        + stacked["bias_ih_l0"][:, None, None]  # (M, B, L, G * D): every step's input part
    recurrent = stacked["weight_hh_l0"].transpose(1, 2)
    bias = stacked["bias_hh_l0"][:, None].expand(-1, len(x), -1)
    h = x.new_zeros(len(members), len(x), hidden)
    c = torch.zeros_like(h)
    for step in range(x.shape[1]):
        from_input = ahead[:, :, step]
        from_state = torch.baddbmm(bias, h, recurrent)
        if gates == 3:
            xr, xz, xn = from_input.chunk(3, -1)
            hr, hz, hn = from_state.chunk(3, -1)
            reset, update = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            h = (1 - update) * torch.tanh(xn + reset * hn) + update * h
        else:
            i, f, g, o = (from_input + from_state).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
    return h


def vmapped(members: list[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """The same, by torch.func.vmap over the members' stacked parameters."""
    from torch.func import functional_call, vmap

    names = [name for name, _ in members[0].named_parameters()]
    stacked = {name: torch.stack([getattr(m, name) for m in members]) for name in names}
    return vmap(lambda params: _final(functional_call(members[0], params, (x,))[1]))(stacked)


WAYS = {"loop": loop, "wide": wide, "bmm": bmm, "vmap": vmapped}


def _cell(member: nn.Module) -> str:
    return "gru" if isinstance(member, nn.GRU) else "lstm"


def _final(state: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    return (state[0] if isinstance(state, tuple) else state)[-1]


def milliseconds(way: Callable, members: list[nn.Module], x: torch.Tensor,
                 device: torch.device, seconds: float) -> float:
    """Median milliseconds of a forward and backward pass over a batch."""
    def once() -> None:
        way(members, x).square().mean().backward()

    once()  # warm-up, and the first call's set-up
    times = []
    spent = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - spent < seconds and len(times) < 50):
        _sync(device)
        started = time.perf_counter()
        once()
        _sync(device)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def encoder_rows(device: torch.device, seconds: float, batches=ENCODER_BATCHES,
                 counts=MEMBERS, window: int = 36, hidden: int = 64) -> list[dict]:
    rows = []
    for cell in GATES:
        for batch in batches:
            x = torch.randn(batch, window, 2, generator=torch.Generator().manual_seed(1)
                            ).to(device)
            for count in counts:
                members = [m.to(device) for m in layers(cell, count, 2, hidden)]
                with torch.no_grad():
                    expected = loop(members, x)
                row = {"cell": cell, "batch": batch, "window": window, "hidden": hidden,
                       "members": count}
                for name, way in WAYS.items():
                    try:
                        with torch.no_grad():
                            difference = (way(members, x) - expected).abs().max().item()
                        row[name] = {"ms": milliseconds(way, members, x, device, seconds),
                                     "largest_difference": difference}
                    except RuntimeError as error:  # e.g. no batching rule for the kernel
                        row[name] = {"error": str(error).splitlines()[0][:160]}
                rows.append(row)
                print(row, file=sys.stderr, flush=True)
    return rows


def loop_rows(device: torch.device, counts=MEMBERS, batches: int = 20) -> list[dict]:
    """Windows per second of forecastr's training loop (train.train) with M members."""
    rows = []
    for case in LOOP_CASES:
        for count in counts:
            cfg, model, data, windows, empty = setup(case, device)
            if count > 1:
                from forecastr.network.model import Ensemble
                cfg = type(cfg)(**{**cfg.__dict__, "ensemble": count})
                torch.manual_seed(0)
                model = Ensemble(cfg, model.dims).to(device)
            forecastr_rate(cfg, model, data, windows, empty, 2, device, "32")  # warm-up
            rate = statistics.median(forecastr_rate(cfg, model, data, windows, empty,
                                                    batches, device, "32") for _ in range(3))
            rows.append({"cell": case.cell, "window": case.window, "hidden": case.hidden,
                         "batch": case.batch, "members": count, "windows_per_s": rate})
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def render(results: dict) -> list[str]:
    lines = ["# Training an ensemble's members together (`python bench/ensembles.py`)", "",
             f"On {results['device']} ({_machine(results)}) with {results['threads']} "
             "thread(s). forecastr's training loop with `--ensemble M` (windows per second, "
             "median of 3 epochs of 20 batches; cost: the time per window over one "
             "network's):", "",
             "| cell | window | hidden | batch | members | windows/s | cost |",
             "|---|---|---|---|---|---|---|"]
    single = {(r["cell"], r["window"]): r["windows_per_s"] for r in results["loop"]
              if r["members"] == 1}
    lines += [f"| {r['cell']} | {r['window']} | {r['hidden']} | {r['batch']} | {r['members']} | "
              f"{r['windows_per_s']:,.0f} | "
              f"{single[(r['cell'], r['window'])] / r['windows_per_s']:.2f}x |"
              for r in results["loop"]]
    lines += ["", "The recurrent encoder alone (one layer, forward and backward of a batch, "
              "median milliseconds; in brackets the largest difference of the final states "
              "from the loop's):", "",
              "| cell | batch | members | " + " | ".join(WAYS) + " |",
              "|---|---|---|" + "---|" * len(WAYS)]
    for r in results["encoder"]:
        cells = [f"{r[w]['ms']:.1f} ({r[w]['largest_difference']:.0e})" if "ms" in r[w]
                 else "fails" for w in WAYS]
        lines.append(f"| {r['cell']} | {r['batch']} | {r['members']} | " + " | ".join(cells)
                     + " |")
    errors = sorted({r[w]["error"] for r in results["encoder"] for w in WAYS
                     if "error" in r[w]})
    lines += [""] + [f"- fails: {error}" for error in errors]
    return lines


def _machine(results: dict) -> str:
    machine = results.get("machine", {})
    words = [f"{machine.get('cpu', 'an unnamed CPU')}, {machine.get('cores', '?')} cores"]
    if "load_average" in results:  # of the minute before the run: other work beside it
        words.append(f"load average {results['load_average']:.2f} before the run")
    return "; ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="forecastr's default: 1")
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="timing per way and size, at most")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results = {"device": str(device), "threads": torch.get_num_threads(),
               "machine": report.machine(), "load_average": os.getloadavg()[0],
               "loop": loop_rows(device),
               "encoder": encoder_rows(device, args.seconds)}
    report.save(args.out, "ensembles", results, render(results))


if __name__ == "__main__":
    main()
