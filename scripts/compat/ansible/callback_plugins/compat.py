# Stdout callback for scripts/compat/ansible.sh: one line per area of playbook.yml (tasks are
# named "AREA | what it does"), each failure with its message, and a closing count line.
# ANSIBLE_VERBOSE=1 (the `compat_verbose` option) also prints every task that succeeded.
DOCUMENTATION = """
    name: compat
    type: stdout
    short_description: one line per playbook area, failures in full, a closing count
    description: Used by pflex's scripts/compat/ansible.sh.
    options:
      compat_verbose:
        description: also print each task that succeeded
        type: bool
        default: false
        env:
          - name: ANSIBLE_VERBOSE
"""

from ansible.plugins.callback import CallbackBase

MSG_LIMIT = 1500


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "compat"

    def __init__(self):
        super().__init__()
        self.areas = {}  # area -> list of failure lines, in the order the areas ran
        self.task = ""

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.verbose = self.get_option("compat_verbose")

    def _area(self, name):
        area = name.split(" | ", 1)[0] if " | " in name else None
        if area is not None and area not in self.areas:
            self.areas[area] = []
            self._display.display(f"  {area}")
        return area

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.task = task.get_name()
        self._area(self.task)

    def _failed(self, result, label=""):
        res = result._result
        msg = res.get("msg") or res.get("stderr") or res.get("exception") or res
        line = f"{self.task}{label}: {str(msg)[:MSG_LIMIT]}"
        area = self._area(self.task)
        if area is not None:
            self.areas[area].append(line)
        self._display.display(f"    FAILED {line}", color="red")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if "results" not in result._result:  # loop failures were shown item by item
            self._failed(result)

    def v2_runner_item_on_failed(self, result):
        self._failed(result, f" (item {result._result.get('item')})")

    def v2_runner_on_unreachable(self, result):
        self._failed(result)

    def v2_runner_on_ok(self, result):
        if self.verbose:
            state = "changed" if result._result.get("changed") else "ok"
            self._display.display(f"    {state}: {self.task}")

    def v2_playbook_on_stats(self, stats):
        failed = [a for a, lines in self.areas.items() if lines]
        self._display.display("")
        for area in self.areas:
            mark = "FAILED" if area in failed else "ok"
            self._display.display(f"  {mark:6} {area}", color="red" if area in failed else None)
        self._display.display(f"ansible: {len(self.areas) - len(failed)} passed, {len(failed)} failed")
