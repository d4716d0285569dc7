#!/usr/bin/env python3
"""A plain numpy/scipy script doing `jackbench analyze`'s measurements (spec §5), for timing the
two side by side on the same file (README, "Speed"). Not part of the test suite.

    python3 benches/analyze_numpy.py FILE.wav          # measures FILE.wav, prints JSON
    python3 benches/analyze_numpy.py --make FILE.wav   # writes the 120 s stereo float test file

Per channel, as jackbench does: DC; frequency, level, THD (harmonics to 20 kHz), THD+N, noise
floor and hum (the 50 or 60 Hz family to 1 kHz) from a 1 s Blackman-Harris segment in the middle
of the tone; gaps (1 ms blocks far under the tone's level), discontinuities (second-difference
spikes far over their robust spread) and clipping (flat tops at the extreme) over the whole file.
"""
import json
import sys

import numpy as np
from scipy.io import wavfile
from scipy.signal import get_window

RATE = 48_000


def make(path):
    """120 s of stereo float: a -12 dBFS 1 kHz tone with its 2nd and 3rd harmonics at -60 and
    -70 dB, 50 Hz hum at -80 dBFS, white noise at -95 dBFS, a DC offset, and a 10 ms gap."""
    n = 120 * RATE
    t = np.arange(n) / RATE
    rng = np.random.default_rng(1)
    chans = []
    for c in range(2):
        a = 10 ** (-12 / 20)
        x = a * np.sin(2 * np.pi * 1000 * t + c)
        x += a * 1e-3 * np.sin(2 * np.pi * 2000 * t) + a * 10 ** (-70 / 20) * np.sin(2 * np.pi * 3000 * t)
        x += 10 ** (-80 / 20) * np.sin(2 * np.pi * 50 * t)
        x += rng.normal(0, 10 ** (-95 / 20) / np.sqrt(2), n) + 0.001
        g = int(60.5 * RATE)
        x[g : g + RATE // 100] = 0.0
        chans.append(x.astype(np.float32))
    wavfile.write(path, RATE, np.stack(chans, axis=1))


def band_power(p, k, half):
    lo, hi = max(k - half, 0), min(k + half + 1, len(p))
    return p[lo:hi].sum(), lo, hi


def measure(x, rate):
    out = {"dc_offset": float(x.mean()), "digital_silence": bool(not np.any(x))}
    y = x - out["dc_offset"]
    # The spectral segment: 1 s in the middle.
    seg_len = min(len(y), rate)
    mid = len(y) // 2
    seg = y[mid - seg_len // 2 : mid - seg_len // 2 + seg_len]
    w = get_window("blackmanharris", seg_len, fftbins=True)
    spec = np.fft.rfft(seg * w)
    p = (np.abs(spec) ** 2) * 2 / (w.sum() ** 2)  # peak-amplitude² per bin for a sine
    df = rate / seg_len
    band = (np.arange(len(p)) * df >= 20) & (np.arange(len(p)) * df <= min(20_000, rate / 2))
    k0 = int(np.argmax(np.where(band, p, 0)))
    # Parabolic interpolation on the log magnitude.
    a, b, c = np.log(p[k0 - 1 : k0 + 2] + 1e-300)
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    f0 = (k0 + delta) * df
    half = 4
    fund, flo, fhi = band_power(p, k0, half)
    # Blackman-Harris: the main lobe's power sum over ±4 bins is the sine's (ENBW 2.0 bins).
    enbw = (w**2).sum() * seg_len / w.sum() ** 2
    a1 = np.sqrt(2 * fund / enbw)
    harm = 0.0
    removed = np.zeros(len(p), bool)
    removed[: int(20 / df) + 1] = True
    removed[flo:fhi] = True
    k = 2
    while k * f0 <= min(20_000, rate / 2 - 2 * half * df):
        kk = int(round(k * f0 / df))
        hp, lo, hi = band_power(p, kk, half)
        harm += hp / enbw
        removed[lo:hi] = True
        k += 1
    hum = None
    best = 0.0
    for mains in (50.0, 60.0):
        tot = 0.0
        idx = []
        m = 1
        while m * mains <= 1000:
            kk = int(round(m * mains / df))
            if not removed[kk]:
                hp, lo, hi = band_power(p, kk, 2)
                tot += hp / enbw
                idx.append((lo, hi))
            m += 1
        if tot > best:
            best, hum_idx = tot, idx
    in_band = p[band & ~removed] / enbw
    floor_per_bin = np.median(in_band) if len(in_band) else 0.0
    if best > 10 * floor_per_bin * 2 * len(hum_idx) * 5:
        hum = 10 * np.log10(best + 1e-300) + 3.0103
        for lo, hi in hum_idx:
            removed[lo:hi] = True
    noise = p[band & ~removed].sum() / enbw
    total = p[band].sum() / enbw
    out.update(
        {
            "frequency_hz": float(f0),
            "level_dbfs": float(20 * np.log10(a1)),
            "thd_percent": float(100 * np.sqrt(2 * harm) / a1),
            "thd_n_db": float(10 * np.log10((total - fund / enbw) / total)),
            "noise_floor_dbfs": float(10 * np.log10(noise + 1e-300) + 3.0103),
            "hum_dbfs": None if hum is None else float(hum),
        }
    )
    # Gaps: 1 ms blocks whose rms falls 20 dB under the median block's.
    blk = rate // 1000
    nb = len(y) // blk
    rms = np.sqrt((y[: nb * blk].reshape(nb, blk) ** 2).mean(axis=1))
    low = rms < 0.1 * np.median(rms)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], low.astype(np.int8), [0]))))
    gaps = [{"at_s": float(s * blk / rate), "ms": float((e - s) * blk * 1000 / rate)} for s, e in zip(edges[::2], edges[1::2])]
    # Discontinuities: second differences far over their robust spread (the tone's own are smooth).
    d2 = np.abs(np.diff(y, 2))
    sigma = 1.4826 * np.median(np.abs(d2 - np.median(d2)))
    spikes = np.flatnonzero(d2 > np.median(d2) + 20 * sigma)
    firsts = spikes[np.diff(np.concatenate(([-rate], spikes))) > rate // 100]
    # A gap's edges are part of it.
    near_gap = lambda i: any(g["at_s"] - 0.002 <= i / rate <= g["at_s"] + g["ms"] / 1000 + 0.002 for g in gaps)
    clicks = [{"at_s": float(i / rate), "ms": 0.0} for i in firsts if not near_gap(i)]
    out["dropouts"] = gaps + clicks
    # Clipping: three samples running at the extreme.
    peak = np.abs(y).max()
    at = np.abs(y) >= 0.999 * peak
    out["clipped"] = bool(np.any(at[:-2] & at[1:-1] & at[2:])) and peak > 0.5
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--make":
        make(sys.argv[2])
        return
    rate, data = wavfile.read(sys.argv[1], mmap=True)
    data = np.asarray(data, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    channels = [measure(data[:, c], rate) for c in range(data.shape[1])]
    print(json.dumps({"format": "numpy-analysis", "sample_rate": rate, "channels": channels}))


if __name__ == "__main__":
    main()
