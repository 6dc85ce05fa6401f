"""The regressor has its own module (scikit-learn imported by the code that fits); fits stored
under its former name, models.forecast.model._Regressor, still load."""

import pickle
import subprocess
import sys

import numpy as np

from models.forecast import model
from models.forecast.regressor import Regressor


def test_a_fit_stored_under_the_former_name_loads_and_predicts_the_same():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 3)), rng.normal(size=200)
    reg = model._regressor(model.ModelSettings(max_iter=5), "squared_error", None, [False] * 3)
    reg.fit(x, y)
    new = pickle.dumps(reg, protocol=2)
    assert b"models.forecast.regressor\nRegressor\n" in new
    old = new.replace(
        b"models.forecast.regressor\nRegressor\n", b"models.forecast.model\n_Regressor\n"
    )
    assert old != new
    loaded = pickle.loads(old)
    assert type(loaded) is Regressor
    np.testing.assert_array_equal(loaded.predict(x), reg.predict(x))


def test_importing_the_model_module_does_not_import_scikit_learn():
    code = "import sys, models.forecast.model; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
