"""Paillier throughput: python-paillier (phe) vs ``fl_node.vertical.crypto.paillier``, side by side.

Run from the repository root (one process, one core, same key for both)::

    .venv/bin/python benchmarks/bench_paillier.py [--quick] [--bits 2048]

``--quick`` shrinks every workload (a few seconds instead of 10-20 s).
Printed, in one table: encryptions/s in both randomiser settings a protocol can
agree on (``HeteroLRConfig.randomizer``) against phe: ours short-exponent
(fixed-base, 256-bit exponent; DCR + the short-exponent assumption), ours
textbook (``r**n``; DCR alone, what phe does), ours CRT (the key holder's
textbook), and the online path with a precomputed pool; decryptions/s (phe;
ours CRT, ours half-CRT with a trusted bound, ours packed per value),
ciphertext*scalar and ciphertext+ciphertext throughput, the
``sum_i x_ij * [[d_i]]`` dot product (multiply-accumulates/s), a complete
vertical-LR mini-batch step in both settings and the ratio of each figure to
phe's; the assumption each figure rests on is named beside it.  Figures are
wall-clock; on a shared machine (load average printed first) re-measure.
"""

# ruff: noqa: T201  -- a command-line report: printing the table is its job.
from __future__ import annotations

import argparse
import math
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gmpy2
import numpy as np
import phe
from tqdm import tqdm

from fl_node.vertical.crypto.paillier import (
    RANDOMIZERS,
    CipherVector,
    Encryptor,
    Packer,
    PaillierPrivateKey,
    PaillierPublicKey,
    encryption_mode,
    generate_keypair,
)

DCR = "DCR"
SHORT = "DCR + short exp."


@dataclass
class Row:
    """One line of the results table."""

    name: str
    phe_rate: float | None
    ours_rate: float | None
    note: str = ""
    assumption: str = ""


def rate(count: int, seconds: float) -> float:
    """Return operations per second."""
    return count / seconds if seconds > 0 else math.inf


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` once and return ``(result, seconds)``."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def loop(label: str, items: list[Any], fn: Callable[[Any], Any]) -> tuple[list[Any], float]:
    """Apply ``fn`` to every item behind a progress bar; return results and seconds."""
    out: list[Any] = []
    start = time.perf_counter()
    for item in tqdm(items, desc=label, leave=False):
        out.append(fn(item))
    return out, time.perf_counter() - start


def fmt(value: float | None) -> str:
    """Format a rate."""
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads")
    parser.add_argument("--bits", type=int, default=2048, help="modulus size (default 2048)")
    args = parser.parse_args()
    q = args.quick
    sizes: dict[str, int] = {
        "phe_enc": 15 if q else 60,
        "textbook": 15 if q else 60,
        "crt": 40 if q else 200,
        "fixed": 300 if q else 3000,
        "pool": 300 if q else 3000,
        "dec": 30 if q else 150,
        "phe_mul": 60 if q else 300,
        "mul": 300 if q else 2000,
        "phe_add": 300 if q else 2000,
        "add": 1000 if q else 10000,
        "packed": 60 if q else 400,
    }
    shapes: dict[str, tuple[int, int]] = {
        "phe_dot": (30, 2) if q else (100, 4),
        "dot": (256, 4) if q else (1024, 16),
        "batch": (32, 4) if q else (128, 8),
    }

    load = os.getloadavg()
    print(
        f"Paillier benchmark: n = {args.bits} bits, gmpy2 {gmpy2.version()}, phe {phe.__version__}"
    )
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"({os.cpu_count()} CPUs){'  -- machine busy: figures are noisy' if load[0] > 1 else ''}"
    )
    (pk, sk), keygen_s = timed(lambda: generate_keypair(args.bits))
    phe_pk = phe.PaillierPublicKey(int(pk.n))
    phe_sk = phe.PaillierPrivateKey(phe_pk, int(sk.p), int(sk.q))
    print(
        f"keygen (ours): {keygen_s:.2f} s; security level {pk.security_bits} bits (NIST SP 800-57)"
    )

    rng = np.random.default_rng(1)
    rows: list[Row] = []

    # ---------------------------------------------------------------- encryption
    vals = rng.uniform(-1, 1, max(*sizes.values(), *(r for r, _ in shapes.values())))
    floats = [float(v) for v in vals]

    _, t = loop("phe encrypt", floats[: sizes["phe_enc"]], phe_pk.encrypt)
    phe_enc = rate(sizes["phe_enc"], t)

    fast, table_s = timed(lambda: Encryptor(pk, mode=encryption_mode("short-exponent")))
    _, t = timed(lambda: fast.encrypt_vector(vals[: sizes["fixed"]], bound=1.0))
    rows.append(
        Row(
            f"encrypt: short-exponent ({fast.short_exponent_bits}-bit s, fixed base)",
            phe_enc,
            rate(sizes["fixed"], t),
            f"table {table_s * 1e3:.0f} ms, w={fast.window_bits}",
            SHORT,
        )
    )
    half = args.bits // 2
    djn, table_s = timed(lambda: Encryptor(pk, short_exponent_bits=half))
    _, t = timed(lambda: djn.encrypt_vector(vals[: sizes["fixed"] // 4], bound=1.0))
    rows.append(
        Row(
            f"encrypt: short-exponent, {half}-bit s (|n|/2, DJN)",
            phe_enc,
            rate(sizes["fixed"] // 4, t),
            f"not a setting; table {table_s * 1e3:.0f} ms",
            SHORT,
        )
    )
    textbook = Encryptor(pk, mode=encryption_mode("textbook"))
    _, t = timed(lambda: textbook.encrypt_vector(vals[: sizes["textbook"]]))
    rows.append(
        Row("encrypt: textbook (r**n, one modexp)", phe_enc, rate(sizes["textbook"], t), "", DCR)
    )
    crt = Encryptor(pk, mode=encryption_mode("textbook", key_holder=True), private_key=sk)
    _, t = timed(lambda: crt.encrypt_vector(vals[: sizes["crt"]]))
    rows.append(Row("encrypt: CRT (textbook, key holder)", phe_enc, rate(sizes["crt"], t), "", DCR))
    for enc, count in ((fast, sizes["pool"]), (textbook, sizes["textbook"])):
        start = time.perf_counter()
        enc.precompute(count)
        pre_s = time.perf_counter() - start
        start = time.perf_counter()
        enc.encrypt_vector(vals[:count], bound=1.0)
        t = time.perf_counter() - start
        rows.append(
            Row(
                f"encrypt: online from a pool, {enc.randomizer}",
                phe_enc,
                rate(count, t),
                f"pool filled offline at {rate(count, pre_s):,.0f}/s",
                SHORT if enc.randomizer == "short-exponent" else DCR,
            )
        )

    # ---------------------------------------------------------------- decryption
    n_dec = sizes["dec"]
    phe_cts = [phe_pk.encrypt(v) for v in floats[:n_dec]]
    _, t = loop("phe decrypt", phe_cts, phe_sk.decrypt)
    phe_dec = rate(n_dec, t)
    cv = fast.encrypt_vector(vals[:n_dec], bound=1.0)
    _, t = timed(lambda: sk.decrypt_vector(cv))
    rows.append(Row("decrypt: CRT", phe_dec, rate(n_dec, t)))
    _, t = timed(lambda: sk.decrypt_vector(cv, trust_bound=True))
    rows.append(Row("decrypt: mod p only (trusted bound)", phe_dec, rate(n_dec, t)))

    # Packed: gradient-like values (dot of 1024 rows: 32+16 frac bits, 10 bits of rows,
    # 3 of magnitude) plus a 40-bit statistical mask -> 102-bit values, 103-bit slots.
    n_packed = sizes["packed"]
    grad_bits = 32 + 16 + 10 + 3 + 40 + 1
    grads = [secrets.randbits(grad_bits) - (1 << (grad_bits - 1)) for _ in range(n_packed)]
    gcv = fast.encrypt_encoded(grads, 48, grad_bits)
    packer = Packer.for_bound_bits(pk, grad_bits)
    packed, pack_s = timed(lambda: packer.pack(gcv))
    decrypted, t = timed(lambda: sk.decrypt_packed_ints(packed))
    assert decrypted == grads, "packing round trip failed"
    rows.append(
        Row(
            f"decrypt: packed, per value ({packer.slots} x {packer.slot_bits}-bit slots)",
            phe_dec,
            rate(n_packed, t),
            f"host packing {rate(n_packed, pack_s):,.0f} values/s",
        )
    )
    rows.append(
        Row("decrypt: packed incl. host packing, per value", phe_dec, rate(n_packed, t + pack_s))
    )

    # ---------------------------------------------------------------- homomorphic ops
    scal = rng.uniform(-3, 3, max(sizes["mul"], sizes["phe_mul"]))
    pairs = list(zip(phe_cts * 10, scal.tolist(), strict=False))[: sizes["phe_mul"]]
    _, t = loop("phe ct*scalar", pairs, lambda p: p[0] * p[1])
    phe_mul = rate(sizes["phe_mul"], t)
    mcv = fast.encrypt_vector(vals[: sizes["mul"]], bound=1.0)
    _, t = timed(lambda: mcv.mul(scal[: sizes["mul"]]))
    rows.append(Row("ct * float scalar", phe_mul, rate(sizes["mul"], t), "ours: 16 frac bits"))

    add_pairs = [(phe_cts[i % n_dec], phe_cts[(i + 1) % n_dec]) for i in range(sizes["phe_add"])]
    _, t = loop("phe ct+ct", add_pairs, lambda p: p[0] + p[1])
    phe_add = rate(sizes["phe_add"], t)
    n_add = sizes["add"]
    reps = -(-n_add // len(mcv))
    acv = CipherVector(pk, list(mcv.raw_ciphertexts) * reps, mcv.frac_bits, mcv.bound_bits)[:n_add]
    _, t = timed(lambda: acv + acv)
    rows.append(Row("ct + ct", phe_add, rate(n_add, t)))

    # ---------------------------------------------------------------- dot (hot path)
    pn, pf = shapes["phe_dot"]
    xp = rng.normal(size=(pn, pf))
    d_enc = [phe_pk.encrypt(v) for v in floats[:pn]]

    def phe_dot() -> list[Any]:
        out = []
        for j in tqdm(range(pf), desc="phe dot", leave=False):
            acc = d_enc[0] * float(xp[0, j])
            for i in range(1, pn):
                acc = acc + d_enc[i] * float(xp[i, j])
            out.append(acc)
        return out

    phe_res, t = timed(phe_dot)
    phe_dot_rate = rate(pn * pf, t)
    got_phe = np.array([phe_sk.decrypt(c) for c in phe_res])
    assert np.allclose(got_phe, vals[:pn] @ xp, atol=1e-6)
    small = fast.encrypt_vector(vals[:pn], bound=1.0)
    same, t = timed(lambda: small.dot(xp))
    assert np.allclose(sk.decrypt_vector(same), vals[:pn] @ xp, atol=pn * 2e-5)
    rows.append(
        Row(f"dot: per multiply-add, phe's shape {pn}x{pf}", phe_dot_rate, rate(pn * pf, t))
    )
    on, of = shapes["dot"]
    xo = rng.normal(size=(on, of))
    dcv = fast.encrypt_vector(vals[:on], bound=1.0)
    res, t = timed(lambda: dcv.dot(xo))
    assert np.allclose(sk.decrypt_vector(res), vals[:on] @ xo, atol=on * 2e-5)
    rows.append(
        Row(
            f"dot: per multiply-add, ours at {on}x{of}",
            phe_dot_rate,
            rate(on * of, t),
            f"phe at {pn}x{pf}",
        )
    )

    # ---------------------------------------------------------------- mini-batch step
    bn, bf = shapes["batch"]
    d = rng.uniform(-1, 1, bn)
    x = rng.normal(size=(bn, bf))
    masks_f = rng.uniform(-1e3, 1e3, bf)

    def phe_step() -> np.ndarray:
        enc_d = [phe_pk.encrypt(float(v)) for v in tqdm(d, desc="phe batch", leave=False)]
        grads = []
        for j in range(bf):
            acc = enc_d[0] * float(x[0, j])
            for i in range(1, bn):
                acc = acc + enc_d[i] * float(x[i, j])
            grads.append(acc + float(masks_f[j]))
        return np.array([phe_sk.decrypt(g) for g in grads]) - masks_f

    def ours_step(
        encryptor: Encryptor, public: PaillierPublicKey, secret: PaillierPrivateKey
    ) -> np.ndarray:
        enc_d = encryptor.encrypt_vector(d, bound=1.0)  # guest
        g = enc_d.dot(x, x_bound=8.0)  # host
        masks = [secrets.randbits(40) - (1 << 39) for _ in range(bf)]
        g = g.add_encoded(masks, bound_bits=40)
        assert g.bound_bits is not None
        packed_g = Packer.for_bound_bits(public, g.bound_bits).pack(g)  # host
        wire_bytes = packed_g.to_bytes()
        ints = secret.decrypt_packed_ints(type(packed_g).from_bytes(wire_bytes, public))  # coord.
        unmasked = [v - m for v, m in zip(ints, masks, strict=True)]  # host
        return np.array(unmasked, dtype=np.float64) / 2.0**g.frac_bits

    phe_out, phe_step_s = timed(phe_step)
    ref = d @ x
    assert np.allclose(phe_out, ref, atol=1e-6)
    for randomizer in RANDOMIZERS:
        # built once per training run, not per mini-batch; no pool: every randomiser online
        guest = Encryptor(pk, mode=encryption_mode(randomizer))
        start = time.perf_counter()
        ours_out = ours_step(guest, pk, sk)
        ours_step_s = time.perf_counter() - start
        assert np.allclose(ours_out, ref, atol=bn * 2e-5)
        rows.append(
            Row(
                f"mini-batch step, {randomizer}, {bn}x{bf} (enc+dot+mask+pack+dec), steps/s",
                rate(1, phe_step_s),
                rate(1, ours_step_s),
                f"ours/phe time = {ours_step_s / phe_step_s:.3f}",
                SHORT if randomizer == "short-exponent" else DCR,
            )
        )

    # ---------------------------------------------------------------- print
    print()
    width = max(len(r.name) for r in rows) + 2
    head = f"{'operation':<{width}}{'phe /s':>12}{'ours /s':>14}{'ours/phe':>10}"
    print(f"{head}  {'ours rests on':<18}note")
    print("-" * (width + 36 + 50))
    for r in rows:
        ratio = "" if not (r.phe_rate and r.ours_rate) else f"{r.ours_rate / r.phe_rate:.1f}x"
        line = f"{r.name:<{width}}{fmt(r.phe_rate):>12}{fmt(r.ours_rate):>14}{ratio:>10}"
        print(f"{line}  {r.assumption or '-':<18}{r.note}")
    print(
        "\nphe always uses textbook randomisers (DCR). 'DCR + short exp.': also the "
        "short-exponent\nassumption (docs/paillier.md, 'Which randomiser by default'); "
        "'-': the same in both settings."
    )
    load = os.getloadavg()
    print(f"\nload average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
