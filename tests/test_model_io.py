"""Reading and writing MLIP-2 ``.mtp`` files (seimd.mtp.model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seimd.mtp.model import MTP, MTPFormatError, UnsupportedMTPError
from seimd.mtp.random import random_mtp

SAMPLES = Path(__file__).resolve().parent / "data"
SAMPLE_MTP = SAMPLES / "lipscl-l08-sample.mtp"


@pytest.fixture(scope="module")
def sample_text() -> str:
    return SAMPLE_MTP.read_text()


@pytest.fixture(scope="module")
def sample(sample_text: str) -> MTP:
    return MTP.from_text(sample_text, source=str(SAMPLE_MTP))


def untrained_text(sample_text: str) -> str:
    """The sample with its coefficients removed: an untrained level-08 template."""
    lines = sample_text.split("\n")
    start = lines.index("\tradial_coeffs")
    end = next(n for n, line in enumerate(lines) if line.startswith("alpha_moments_count"))
    kept = lines[:start] + lines[end:]
    return "\n".join(line for line in kept if not line.startswith(("species_coeffs", "moment_coeffs")))


# ----------------------------------------------------------------- good files


def test_sample_contents(sample: MTP) -> None:
    assert sample.is_trained
    assert sample.potential_name == "MTP1m"
    assert sample.scaling == 9.424274464540583e-02
    assert (sample.species_count, sample.radial_funcs_count, sample.radial_basis_size) == (4, 2, 8)
    assert (sample.min_dist, sample.max_dist, sample.cutoff) == (1.7, 5.0, 5.0)
    assert sample.radial_coeffs.shape == (4, 4, 2, 8)
    assert sample.radial_coeffs[0, 1, 1, 7] == 2.691097969641528e-03
    assert sample.alpha_index_basic.shape == (11, 4)
    assert sample.alpha_index_times.shape == (14, 4)
    assert sample.alpha_moments_count == 18
    assert sample.alpha_moment_mapping.tolist() == [0, 10, 11, 12, 13, 14, 15, 16, 17]
    assert sample.species_coeffs[3] == -4.897603567430720e00
    assert sample.potential_tag == "" and sample.elements is None
    assert sample.n_parameters == 2 * 8 * 4**2 + 4 + 9 == 269


def test_sample_round_trip_is_byte_exact(sample: MTP, sample_text: str, tmp_path: Path) -> None:
    assert sample.to_text() == sample_text
    out = tmp_path / "copy.mtp"
    sample.write(out)
    assert out.read_bytes() == SAMPLE_MTP.read_bytes()
    assert MTP.read(out) == sample


def test_crlf_parses_identically(sample: MTP, sample_text: str, tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.mtp"
    crlf.write_bytes(sample_text.replace("\n", "\r\n").encode())
    assert MTP.read(crlf) == sample
    assert MTP.read(crlf).to_text() == sample_text


def test_whitespace_tolerance(sample: MTP, sample_text: str) -> None:
    messy = "\n".join("  " + line.replace(" = ", "   =  ") + "  \t" for line in sample_text.split("\n"))
    messy = messy.replace("\n", "\n\n", 5)  # a few blank lines
    assert MTP.from_text(messy) == sample


def test_random_values_round_trip_bitwise(sample: MTP, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    vec = rng.normal(size=sample.n_parameters) * 10.0 ** rng.integers(-8, 8, sample.n_parameters)
    mtp = sample.with_parameters(vec)
    path = tmp_path / "random.mtp"
    mtp.write(path)
    back = MTP.read(path)
    assert back == mtp
    assert back.parameters.tobytes() == vec.tobytes()


def test_parameters_layout(sample: MTP) -> None:
    C, K, R = 4, 2, 8
    vec = sample.parameters
    assert vec.shape == (269,)
    for s1, s2, mu, xi in [(0, 0, 0, 0), (1, 2, 1, 5), (3, 3, 1, 7), (2, 0, 0, 3)]:
        assert vec[((s1 * C + s2) * K + mu) * R + xi] == sample.radial_coeffs[s1, s2, mu, xi]
    radial, species, moment = sample.parameter_slices
    assert np.array_equal(vec[species], sample.species_coeffs)
    assert np.array_equal(vec[moment], sample.moment_coeffs)
    assert sample.with_parameters(vec) == sample
    with pytest.raises(ValueError, match="expected \\(269,\\)"):
        sample.with_parameters(vec[:-1])


def test_elements_in_tag(sample: MTP) -> None:
    tagged = sample.with_elements(["Li", "P", "S", "Cl"])
    assert tagged.potential_tag == "elements:Li,P,S,Cl"
    assert tagged.elements == ["Li", "P", "S", "Cl"]
    assert MTP.from_text(tagged.to_text()) == tagged
    retagged = tagged.with_elements(["Na", "P", "S", "Br"])
    assert retagged.elements == ["Na", "P", "S", "Br"]
    kept = MTP.from_text(tagged.to_text().replace("potential_tag = ", "potential_tag = run7 "))
    assert kept.with_elements(["Li", "P", "S", "I"]).potential_tag == "run7 elements:Li,P,S,I"
    with pytest.raises(ValueError, match="4 species"):
        sample.with_elements(["Li"])
    with pytest.raises(MTPFormatError, match="potential_tag"):
        MTP.from_text(sample.to_text().replace("potential_tag = ", "potential_tag = elements:Li,P"))


def test_untrained_template(sample: MTP, sample_text: str) -> None:
    template = MTP.from_text(untrained_text(sample_text))
    assert not template.is_trained
    assert template.radial_coeffs is None and template.moment_coeffs is None
    assert template.to_text() == untrained_text(sample_text)
    with pytest.raises(ValueError, match="untrained"):
        template.parameters
    assert template.with_parameters(sample.parameters) == sample


def test_inner_radial_scaling(sample_text: str) -> None:
    text = sample_text.replace("radial_basis_type = RBChebyshev\n",
                               "radial_basis_type = RBChebyshev\n\tscaling = 2.000000000000000e+00\n")
    mtp = MTP.from_text(text)
    assert mtp.radial_scaling == 2.0
    assert mtp.scaling == 9.424274464540583e-02
    assert mtp.effective_radial_scaling == 2.0 * 9.424274464540583e-02
    assert mtp.to_text() == text


def test_optional_lines(sample_text: str) -> None:
    text = sample_text.replace("scaling = 9.424274464540583e-02\n", "").replace(
        "potential_name = MTP1m\n", "")
    mtp = MTP.from_text(text)
    assert mtp.scaling == 1.0 and mtp.potential_name is None
    assert mtp.to_text() == text


def test_random_mtp_is_trained_and_reproducible(sample: MTP) -> None:
    args = (sample.alpha_index_basic, sample.alpha_index_times, sample.alpha_moment_mapping,
            sample.alpha_moments_count, sample.radial_funcs_count, 3)
    a, b = random_mtp(*args, seed=4), random_mtp(*args, seed=4)
    assert a.is_trained and a == b and a != random_mtp(*args, seed=5)
    assert a.n_parameters == 2 * 8 * 9 + 3 + 9
    assert MTP.from_text(a.to_text()) == a


# ----------------------------------------------------------------- bad files


def expect_error(text: str, *fragments: str) -> MTPFormatError:
    with pytest.raises(MTPFormatError) as info:
        MTP.from_text(text, source="bad.mtp")
    message = str(info.value)
    assert message.startswith("bad.mtp"), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MTPFormatError, match="nothere.mtp.*file not found"):
        MTP.read(tmp_path / "nothere.mtp")


def test_bad_header(sample_text: str) -> None:
    expect_error(sample_text.replace("MTP\n", "MTX\n", 1), "line 1", "'MTP'")
    expect_error("", "line 1", "empty file")


def test_wrong_version(sample_text: str) -> None:
    err = expect_error(sample_text.replace("version = 1.1.0", "version = 1.2.0"),
                       "line 2", "1.2.0", "1.1.0")
    assert err.line == 2


def test_unknown_key(sample_text: str) -> None:
    text = sample_text.replace("species_count = 4\n", "species_count = 4\ncolour = blue\n")
    err = expect_error(text, "line 6", "'colour'", "unknown key")
    assert (err.line, err.key) == (6, "colour")


def test_duplicate_key(sample_text: str) -> None:
    text = sample_text.replace("species_count = 4\n", "species_count = 4\nspecies_count = 4\n")
    expect_error(text, "line 6", "given twice", "line 5")


def test_count_mismatch(sample_text: str) -> None:
    expect_error(sample_text.replace("alpha_index_basic_count = 11", "alpha_index_basic_count = 12"),
                 "line 63", "alpha_index_basic has 11 entries", "alpha_index_basic_count = 12")
    expect_error(sample_text.replace("alpha_index_times_count = 14", "alpha_index_times_count = 13"),
                 "alpha_index_times has 14 entries")
    expect_error(sample_text.replace("alpha_scalar_moments = 9", "alpha_scalar_moments = 10"),
                 "alpha_moment_mapping has 9 entries")
    expect_error(sample_text.replace("species_coeffs = {", "species_coeffs = {1.0, "),
                 "line 68", "species_coeffs", "5 values", "species_count = 4")
    expect_error(sample_text.replace("moment_coeffs = {", "moment_coeffs = {1.0, "),
                 "line 69", "moment_coeffs", "10 values")


def test_index_out_of_range(sample_text: str) -> None:
    expect_error(sample_text.replace("{1, 0, 0, 0}}", "{2, 0, 0, 0}}"),
                 "line 63", "alpha_index_basic", "mu=2", "radial_funcs_count = 2")
    expect_error(sample_text.replace("{0, 15, 1, 17}", "{0, 15, 1, 18}"),
                 "line 65", "alpha_index_times", "outside 0..17")
    expect_error(sample_text.replace("{0, 10, 11, 12, 13", "{0, 10, 11, 12, 31"),
                 "line 67", "alpha_moment_mapping", "31")
    expect_error(sample_text.replace("species_count = 4", "species_count = 0"),
                 "species_count")


def test_truncated_radial_coeffs(sample_text: str) -> None:
    lines = sample_text.split("\n")
    del lines[14]  # line 15: second line of pair 0-0
    expect_error("\n".join(lines), "line 15", "radial_coeffs", "pair 0-0, radial function 1",
                 "truncated")
    short = sample_text.replace(", 4.841798027552235e-03}", "}")
    expect_error(short, "line 14", "pair 0-0, radial function 0", "7 numbers", "radial_basis_size = 8")
    cut = "\n".join(sample_text.split("\n")[:20])
    expect_error(cut, "truncated", "radial_coeffs")


def test_radial_labels_in_order(sample_text: str) -> None:
    text = sample_text.replace("\t\t0-1\n", "\t\t1-0\n", 1)
    expect_error(text, "line 16", "expected pair label '0-1'", "row-major")


def test_malformed_values(sample_text: str) -> None:
    expect_error(sample_text.replace("radial_basis_size = 8", "radial_basis_size = eight"),
                 "line 10", "expected an integer")
    expect_error(sample_text.replace("max_dist = 5.000000000000000e+00", "max_dist = 1.0"),
                 "line 9", "min_dist < max_dist")
    expect_error(sample_text.replace("{0, 0, 0, 0}, {0, 1, 0, 0}", "{0, 0, 0}, {0, 1, 0, 0}"),
                 "entry 0 has 3 numbers")
    expect_error(sample_text.replace("{-1.521180480547474e+00,", "{-1.5x,"),
                 "line 68", "expected a number", "-1.5x")


def test_unsupported_radial_basis(sample_text: str) -> None:
    err = expect_error(sample_text.replace("= RBChebyshev", "= RBShapeev"),
                       "line 7", "RBShapeev", "not implemented")
    assert isinstance(err, UnsupportedMTPError)
    assert isinstance(err, NotImplementedError) and isinstance(err, ValueError)
    expect_error(sample_text.replace("= RBChebyshev", "= RBMagic"), "unknown radial basis type")
