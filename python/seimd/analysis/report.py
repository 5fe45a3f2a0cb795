"""Terminal table, JSON and CSV of `seimd analyze` results."""

from __future__ import annotations

import csv
import io
import json

__all__ = ["format_table", "to_json", "to_csv", "CSV_COLUMNS"]


def _f(x, fmt="{:.3g}"):
    return "-" if x is None else fmt.format(x)


def _pm(value, error):
    if value is None:
        return "-"
    return f"{value:.3g} +- {error:.2g}" if error is not None else f"{value:.3g}"


def format_table(groups: list[dict]) -> str:
    """One block per condition: a line per seed, then the seed spread."""
    lines = []
    for g in groups:
        lines.append(f"== {g['condition_label']} ({len(g['runs'])} run(s))")
        lines.append(f"  {'seed':>5} {'t_end/ps':>9} {'red%':>6} {'cry%':>6} {'amo%':>6} "
                     f"{'law':>5} {'b (log) %':>16} {'n (power)':>15} {'R2 log/pow/sqrt':>17} "
                     f"{'onset/ps':>9} {'n cryst [95%]':>22} {'coal/ps':>8} {'conv%':>6} {'stall/ps':>8}")
        for r in g["runs"]:
            fits = r.get("reduced_fits", {})
            log = fits.get("log", {})
            pw = fits.get("power", {})
            r2 = "/".join(_f(fits.get(k, {}).get("r2"), "{:.3f}") for k in ("log", "power", "sqrt"))
            ce = r.get("crystalline_exponent") or {}
            nci = (f"{ce['n']:.2f} [{ce['n_ci95'][0]:.2f},{ce['n_ci95'][1]:.2f}]" if ce else "-")
            st = r["stages"]
            lines.append(
                f"  {_f(r['seed'], '{}'):>5} {r['time_range_ps'][1]:9.4g} "
                f"{r['final_pct']['reduced']:6.2f} {r['final_pct']['crystalline']:6.2f} "
                f"{r['final_pct']['amorphous']:6.2f} {r.get('best_law') or '-':>5} "
                f"{_pm(log.get('params', {}).get('b'), log.get('errors', {}).get('b')):>16} "
                f"{_pm(pw.get('params', {}).get('n'), pw.get('errors', {}).get('n')):>15} {r2:>17} "
                f"{_f(r['crystalline_onset_ps']):>9} {nci:>22} {_f(st['coalescence_ps']):>8} "
                f"{_f(st['conversion_at_coalescence_pct'], '{:.1f}'):>6} {_f(st['stall_ps']):>8}")
        for r in g["runs"]:
            tf = (r.get("thickness_fits") or {}).get(r.get("thickness_best_law") or "")
            if tf:
                pars = ", ".join(f"{k} {v:.3g} +- {tf['errors'][k]:.2g}" for k, v in tf["params"].items())
                lines.append(f"  seed {_f(r['seed'], '{}')}: reduced layer {r['final_thickness_nm']:.2f} nm "
                             f"at the end; thickness law {tf['law']} ({tf['formula']}, nm): {pars}, "
                             f"R2 {tf['r2']:.3f}")
            for k, side in enumerate(r.get("interfaces") or []):
                f = (side.get("fits") or {}).get(side.get("best_law") or "")
                law = (f"law {f['law']}: " + ", ".join(f"{n} {v:.3g}" for n, v in f["params"].items())
                       + f", R2 {f['r2']:.3f}") if f else side.get("error", "no fit")
                end = ("no thickness" if side["final_thickness_nm"] is None
                       else f"{side['final_thickness_nm']:.2f} nm at the end" if side.get("last_ps") is None
                       else f"{side['final_thickness_nm']:.2f} nm at {side['last_ps']:.4g} ps, the last "
                            f"analysis with Li metal and electrolyte")
                lines.append(f"    interface {k + 1} ({'Li below' if k == 0 else 'Li above'} the "
                             f"electrolyte): {end}; {law}")
            perc = r.get("percolation")
            if perc:
                first = perc["first_separated_ps"]
                lines.append(f"  seed {_f(r['seed'], '{}')}: crystalline layer seals the anode off "
                             f"the pristine electrolyte: "
                             + (f"first at {first:.4g} ps" if first is not None else "not in the frames")
                             + f" ({perc['n_frames']} dump frames: "
                             + ", ".join(f"{n} {k}" for k, n in perc["frames_by_state"].items())
                             + f"; neighbour cutoff {perc['cutoff_A']:g} A)")
        sp = g.get("seed_spread") or {}
        if len(g["runs"]) > 1:
            parts = [f"{k} {v['mean']:.3g} +- {v['std']:.2g}" for k, v in sp.items() if v]
            lines.append("  seed spread (mean +- std): " + "; ".join(parts))
    lines.append("b: slope of reduced% = a + b ln(t/ps); in the paper's Butler-Volmer picture the "
                 "Li flux falls as exp(-reduced%/b), so b is the reduced % over which the flux "
                 "drops e-fold and the rate is b/t; law: smallest AIC of log, power, sqrt; "
                 "onset: first sustained crystalline rise above the noise floor; n cryst: "
                 "crystalline% - base = A (t-onset)^n; coal: amorphous maximum (conv = "
                 "crystalline/reduced there); stall: reduced rate < peak/10")
    return "\n".join(lines)


def to_json(groups: list[dict]) -> str:
    return json.dumps({"groups": groups}, indent=2, default=float)


CSV_COLUMNS = ["path", "temperature_K", "pressure_bar", "model", "seed", "t_end_ps",
               "final_reduced_pct", "final_crystalline_pct", "final_amorphous_pct", "best_law",
               "log_a_pct", "log_b_pct", "log_b_err", "log_r2", "log_aic",
               "power_a", "power_n", "power_n_err", "power_r2", "power_aic",
               "sqrt_a", "sqrt_a_err", "sqrt_r2", "sqrt_aic",
               "crystalline_onset_ps", "crystalline_n", "crystalline_n_lo95", "crystalline_n_hi95",
               "amorphous_onset_ps", "coalescence_ps", "conversion_at_coalescence_pct", "stall_ps",
               "final_thickness_nm", "thickness_best_law", "interface1_thickness_nm",
               "interface2_thickness_nm", "sealed_ps"]


def to_csv(groups: list[dict]) -> str:
    """One row per run, the columns of CSV_COLUMNS (units in the names)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS)
    w.writeheader()
    for g in groups:
        for r in g["runs"]:
            fits = r.get("reduced_fits", {})
            row = {"path": r["path"], "temperature_K": r["temperature_K"],
                   "pressure_bar": r["pressure_bar"], "model": r["model"], "seed": r["seed"],
                   "t_end_ps": r["time_range_ps"][1], "best_law": r.get("best_law")}
            for k in ("reduced", "crystalline", "amorphous"):
                row[f"final_{k}_pct"] = r["final_pct"][k]
            for law, names in (("log", ("a", "b")), ("power", ("a", "n")), ("sqrt", ("a",))):
                f = fits.get(law)
                if not f:
                    continue
                for name in names:
                    key = f"{law}_{name}" + ("_pct" if law == "log" else "")
                    row[key] = f["params"][name]
                row[f"{law}_{names[-1]}_err"] = f["errors"][names[-1]]
                row[f"{law}_r2"], row[f"{law}_aic"] = f["r2"], f["aic"]
            ce = r.get("crystalline_exponent") or {}
            row["crystalline_onset_ps"] = r["crystalline_onset_ps"]
            if ce:
                row["crystalline_n"] = ce["n"]
                row["crystalline_n_lo95"], row["crystalline_n_hi95"] = ce["n_ci95"]
            for k in ("amorphous_onset_ps", "coalescence_ps", "conversion_at_coalescence_pct", "stall_ps"):
                row[k] = r["stages"][k]
            row["final_thickness_nm"] = r.get("final_thickness_nm")
            row["thickness_best_law"] = r.get("thickness_best_law")
            for k, side in enumerate(r.get("interfaces") or []):
                row[f"interface{k + 1}_thickness_nm"] = side["final_thickness_nm"]
            row["sealed_ps"] = (r.get("percolation") or {}).get("first_separated_ps")
            w.writerow({k: v for k, v in row.items() if k in CSV_COLUMNS})
    return buf.getvalue()
