"""``python -m nn.playground``, the command users know. The playground is an application on nn,
so it lives in ``apps.playground``; this module only runs it."""
import runpy

if __name__ == "__main__":
    runpy.run_module("apps.playground", run_name="__main__", alter_sys=True)
