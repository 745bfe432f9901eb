import os
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MLCOURSE_QUICK", "1")
