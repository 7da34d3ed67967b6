"""data_file_names finds the names `_NAME` matches, without its quadratic backtracking."""

import time

import pytest

from auditor.data_files import _NAME, data_file_names

READ = "pd.read_csv(path)\n"


@pytest.mark.parametrize("text", [
    'df.to_csv("data/processed.csv")',
    "np.save('X.npy', X)",
    '\\"clean.csv\\" in a notebook\'s JSON',
    '".csv" alone is no name',
    '"..csv" and "a-b.c.xlsx" and "t.xls" and "m.hdf5" and "p.pickle"',
    '"é_données.parquet" "x.csv.bak" "x.csv\\\\" "y.csv\\x"',
    'word' * 50 + '.csv" then ' + 'x' * 300 + ' "b.npz\'',
    '"a.csv""b.tsv\'c.joblib"',
])
def test_same_names_as_the_pattern(text):
    text = READ + text
    expected = tuple(sorted({m.group(1) for m in _NAME.finditer(text)}))
    assert data_file_names(text) == expected
    assert expected or "alone" in text


def test_a_long_word_is_read_once():
    # 200,000 name characters: the pattern alone takes minutes on this (each start rescans).
    text = READ + "a" * 200_000 + '.csv" ' + "b" * 200_000
    start = time.perf_counter()
    names = data_file_names(text)
    assert time.perf_counter() - start < 1.0
    assert names == ("a" * 200_000 + ".csv",)


@pytest.mark.parametrize("text", [
    "df.to_csv(p)", "pd.read_parquet(p)", "x.to_json (p)", "np.save(p, x)", "numpy.loadtxt(p)",
    "joblib.dump(m, p)", "pickle.load(f)", "cnp.save(p)", "mynumpy.load(p)", "unpickle.load(f)",
    "xjoblib.dump(m)", "_np.save(p)", "(np.savez(p))", "np.saveall(p)", "cnp.save(p) and np.load(p)",
    "é_np.save(p)", "df.read_csv", "",
])
def test_same_calls_as_the_pattern(text):
    from auditor.data_files import _CALL_WORDS, _reads_or_writes_data

    assert _reads_or_writes_data(text) == bool(_CALL_WORDS.search(text))
