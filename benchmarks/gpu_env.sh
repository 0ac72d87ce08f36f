# Sourced by gpu_check.sh and gpu_suite.sh: the device image's Python with this checkout on its path,
# and segmentation_models_pytorch from .wheels/ when the image lacks it
# (pip download --no-deps segmentation-models-pytorch -d .wheels).
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg TQDM_DISABLE=1
$PY -c "import segmentation_models_pytorch" 2>/dev/null || $PY -m pip install --no-deps --no-index .wheels/*.whl -q
