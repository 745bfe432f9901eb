"What settings.ini promises about the platforms: the torch floor is the newest torch API the library uses."
import configparser, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the torch release that introduced each API the library calls (from PyTorch's release notes)
API_SINCE = {"torch.amp.GradScaler(": (2, 3),       # the device-generic scaler; before: torch.cuda.amp.GradScaler
             "torch.compile(": (2, 0),
             "torch.backends.cpu": (2, 0),          # get_cpu_capability
             "weights_only=": (1, 13)}


def floor(pkg):
    reqs = configparser.ConfigParser(); reqs.read(ROOT/"settings.ini")
    m = re.search(rf"(?:^|\s){pkg}>=(\d+)\.(\d+)", reqs["DEFAULT"]["requirements"])
    assert m, f"settings.ini has no {pkg}>= floor"
    return int(m[1]), int(m[2])


def test_torch_floor_is_the_newest_api_used():
    code = "\n".join(p.read_text() for p in (ROOT/"mlcourse").glob("*.py"))
    used = {api: v for api, v in API_SINCE.items() if api in code}
    assert "torch.amp.GradScaler(" in used, "the table above no longer matches the code: update it"
    newest = max(used.values())
    assert floor("torch") == newest, f"settings.ini says torch>={floor('torch')}, but the code needs {newest} ({used})"
    assert floor("torchvision") == (0, newest[1] + 15), "torchvision 0.(N+15) goes with torch 2.N"
