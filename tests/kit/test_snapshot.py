"""Unit tests of tests/lib/snapshot.py's reasons, on recorded snapshots:
no process is started, so they run in milliseconds.

Run: python3 -m unittest discover -s tests/kit -p 'test_snapshot.py'
(tests/kit/snapshot.bats does).
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import snapshot  # noqa: E402

PROXY = "/build/sub/webproxy"
CACHE = "/build/sub/simplecached"
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def frame(func, module=LIBC, file="", line=0):
    return {"func": func, "module": module, "file": file, "line": line, "mine": module in (PROXY, CACHE)}


def thread(n, stack, state="S", cpu=0.0, queued=0.0, waited=None, life=30.0, cpu_total=0.1):
    return {"tid": 100 + n, "n": n, "state": state, "wchan": "futex_do_wait", "name": "x", "cpu": cpu,
            "queued": queued, "waited": waited, "waited_at_least": 1.0, "life": life,
            "cpu_total": cpu_total, "stack": stack}


def program(name, threads):
    return {"pid": 7, "name": name, "alive": True, "stack_tool": "eu-stack", "threads": threads,
            "log": f"/tmp/{name}.log", "tail": [f"{name}: started"]}


def record(*programs):
    return {"window": 1.0, "cpus": 2, "load": ["1", "1", "1"], "programs": list(programs)}


def joining(exe):
    return thread(1, [frame("__pthread_clockjoin_ex"), frame("main", exe, "solution/mqueue/main.c", 40)],
                  waited=30.0)


def signals(exe):
    return thread(2, [frame("__GI___sigtimedwait"), frame("stop_signals_wait", exe, "lab/stop_signals.c", 20)],
                  waited=30.0)


def pool_waiter(n, exe, user_file):
    return thread(n, [frame("__futex_abstimed_wait_common"), frame("___pthread_cond_wait"),
                      frame("bqueue_pop", exe, "lab/bqueue.c", 102), frame("work", exe, user_file, 345)],
                  waited=30.0)


def sem_waiter(n, exe, line, waited, func="__new_sem_wait_slow64.constprop.0"):
    return thread(n, [frame("__futex_abstimed_wait_common"), frame(func),
                      frame("segment_wait", exe, "solution/mqueue/shm_channel.c", line),
                      frame("transfer", exe, "solution/mqueue/handle_with_cache.c", 142)], waited=waited)


def queue_waiter(n):
    return thread(n, [frame("__GI___mq_timedreceive"), frame("receive_message", CACHE, "solution/mqueue/simplecached.c", 128)],
                  waited=30.0)


class Reasons(unittest.TestCase):
    def test_a_deadlocked_handshake_names_the_thread_the_call_and_the_line(self):
        proxy = program("webproxy", [joining(PROXY), signals(PROXY), sem_waiter(3, PROXY, 38, 12.04),
                                     pool_waiter(4, PROXY, "lab/gfserver.c"), pool_waiter(5, PROXY, "lab/gfserver.c")])
        cache = program("simplecached", [joining(CACHE), signals(CACHE)] + [queue_waiter(n) for n in (3, 4, 5)])
        why = snapshot.reason(record(proxy, cache))
        self.assertIn("webproxy thread 3 has waited 12.0 s in sem_wait (shm_channel.c:38)", why)
        self.assertIn("every simplecached worker waits in mq_receive (simplecached.c:128)", why)
        self.assertNotIn("idle", why)
        self.assertNotIn("machine", why)

    def test_a_timed_wait_names_its_own_call(self):
        proxy = program("webproxy", [sem_waiter(3, PROXY, 40, 7.0, func="__new_sem_clockwait")])
        self.assertIn("in sem_clockwait (shm_channel.c:40)", snapshot.reason(record(proxy)))

    def test_a_wait_in_the_framework_names_the_students_caller_too(self):
        cache = program("simplecached", [pool_waiter(3, CACHE, "solution/mqueue/simplecached.c")])
        self.assertIn("in pthread_cond_wait (bqueue.c:102, from simplecached.c:345)",
                      snapshot.reason(record(cache)))

    def test_a_lasting_wait_comes_before_one_that_wakes_within_the_window(self):
        cache = program("simplecached", [joining(CACHE), queue_waiter(3), sem_waiter(4, CACHE, 45, 9.5)])
        cache["threads"][1]["waited"] = 0.2
        why = snapshot.reason(record(cache))
        self.assertTrue(why.startswith("simplecached thread 4 has waited 9.5 s in sem_wait"), why)

    def test_a_thread_without_a_scheduler_record_has_waited_at_least_the_window(self):
        cache = program("simplecached", [sem_waiter(3, CACHE, 45, None)])
        self.assertIn("has waited at least 1.0 s in sem_wait", snapshot.reason(record(cache)))

    def test_a_spinning_thread_is_spinning_never_idle(self):
        spinner = thread(3, [frame("__new_sem_trywait"), frame("segment_wait", PROXY, "shm_channel.c", 50)],
                         state="R", cpu=0.98)
        proxy = program("webproxy", [joining(PROXY), spinner])
        cache = program("simplecached", [joining(CACHE), queue_waiter(2)])
        why = snapshot.reason(record(proxy, cache))
        self.assertTrue(why.startswith("spinning: webproxy thread 3 used 98% of a CPU in sem_trywait (shm_channel.c:50)"),
                        why)
        self.assertNotIn("idle", why)
        self.assertNotIn("waited", why)

    def test_a_spinning_thread_caught_in_its_own_loop_names_its_function(self):
        spinner = thread(3, [frame("segment_wait", PROXY, "shm_channel.c", 49)], state="R", cpu=0.9)
        why = snapshot.reason(record(program("webproxy", [spinner])))
        self.assertIn("spinning: webproxy thread 3 used 90% of a CPU in segment_wait (shm_channel.c:49)", why)

    def test_a_poll_that_a_busy_machine_starves_is_still_spinning(self):
        spinner = thread(3, [frame("__new_sem_trywait"), frame("segment_wait", PROXY, "shm_channel.c", 50)],
                         state="R", cpu=0.25, queued=0.7)
        why = snapshot.reason(record(program("webproxy", [spinner])))
        self.assertTrue(why.startswith("spinning: webproxy thread 3 used 25% of a CPU"), why)
        self.assertNotIn("machine was busy", why)

    def test_a_starved_poll_seen_in_a_second_look_is_spinning(self):
        spinner = thread(3, [frame("segment_wait", PROXY, "shm_channel.c", 49)], state="R", cpu=0.05, queued=0.9)
        spinner["also_in"] = ["segment_wait", "sem_trywait"]
        why = snapshot.reason(record(program("webproxy", [spinner])))
        self.assertTrue(why.startswith("spinning: webproxy thread 3 used 5% of a CPU in segment_wait"), why)

    def test_a_starved_thread_that_never_slept_is_spinning(self):
        spinner = thread(3, [frame("__GI___clock_gettime"), frame("deadline_after", CACHE, "lab/deadline.c", 12),
                             frame("segment_wait", CACHE, "solution/mqueue/shm_channel.c", 39)],
                         state="R", cpu=0.11, queued=0.85)
        spinner["slept"] = 0
        why = snapshot.reason(record(program("simplecached", [spinner])))
        self.assertEqual(why, "spinning: simplecached thread 3 used 11% of a CPU in clock_gettime "
                              "(deadline.c:12, from shm_channel.c:39) (all a busy machine gave it: it wanted a CPU "
                              "96% of the time and never slept): a wait that polls instead of sleeping until it is woken")

    def test_runnable_threads_that_got_little_cpu_mean_a_busy_machine(self):
        work = [frame("memcpy"), frame("send_file", CACHE, "simplecached.c", 270)]
        proxy = program("webproxy", [dict(thread(3, [frame("send_within", PROXY, "gfnet.c", 49)], state="R",
                                                 cpu=0.1, queued=0.8), slept=40)])
        cache = program("simplecached", [dict(thread(3, work, state="R", cpu=0.12, queued=0.75), slept=35)])
        why = snapshot.reason(record(proxy, cache))
        self.assertEqual(why, "both programs were runnable but got 22% of a CPU, and queued for one 155% of the "
                              "time: the machine was busy")

    def test_one_starved_program(self):
        proxy = program("webproxy", [thread(3, [frame("send_within", PROXY, "gfnet.c", 49)], state="R",
                                            cpu=0.1, queued=0.8)])
        self.assertIn("webproxy was runnable but got 10% of a CPU", snapshot.reason(record(proxy)))

    def test_a_thread_that_spun_before_it_was_looked_at(self):
        proxy = program("webproxy", [sem_waiter(3, PROXY, 38, 2.0)])
        proxy["threads"][0].update(cpu_total=9.0, life=10.0)
        self.assertIn("before that, webproxy thread 3 spun: it used 9.0 s of CPU in its 10.0 s",
                      snapshot.reason(record(proxy)))

    def test_programs_that_had_exited(self):
        gone = dict(program("webproxy", []), alive=False)
        self.assertEqual(snapshot.reason(record(gone)), "no program of the submission was running when it was looked at")

    def test_render_holds_the_stacks_and_the_last_lines_of_output(self):
        proxy = program("webproxy", [joining(PROXY), sem_waiter(3, PROXY, 38, 12.0), sem_waiter(4, PROXY, 38, 11.0)])
        text = snapshot.render(record(proxy))
        self.assertIn("threads 3, 4: state S (futex_do_wait), 0% of a CPU, has waited 12.0 s, in sem_wait", text)
        self.assertIn("segment_wait (shm_channel.c:38) <- transfer (handle_with_cache.c:142)", text)
        self.assertIn("---- webproxy: the last 1 lines of its output\nwebproxy: started", text)


EU_STACK = """PID 8402 - process
TID 8404:
#0  0x00007f04a178ff16 __futex_abstimed_wait_common64 - /usr/lib/x86_64-linux-gnu/libc.so.6
    ./nptl/futex-internal.c:57:12
#1  0x00007f04a17925d8 ___pthread_cond_wait - /usr/lib/x86_64-linux-gnu/libc.so.6
    ./nptl/pthread_cond_wait.c:618:10
#2  0x00005582f7bd5f9b bqueue_pop - /b/simplecached
    lab/bqueue.c:102:3
#3  0x00005582f7bd48d1 _start - /b/simplecached
TID 8405:
#0  0x00007fe5dfc32e26 __new_sem_trywait - /usr/lib/x86_64-linux-gnu/libc.so.6
    ./nptl/sem_wait.c:84:10
"""

GDB = """Thread 2 (Thread 0x7fe5dfb9e6c0 (LWP 7563) "semwait"):
#0  __new_sem_trywait (sem=sem@entry=0x55f5fe884060 <s>) at ./nptl/sem_wait.c:84
#1  0x000055f5fe8811d8 in spin (a=<optimized out>) at /tmp/semwait.c:5
#2  0x00007fe5dfcab8ec in clone3 () at ../sysdeps/unix/sysv/linux/x86_64/clone3.S:81

Thread 1 (Thread 0x7fe5dfb9f740 (LWP 7561) "semwait"):
#0  0x00007fe5dfc27f7b in __GI___futex_abstimed_wait_cancelable64 (futex_word=0x1) from /lib/libc.so.6
"""


class Source(unittest.TestCase):
    def test_the_source_line_tells_a_timed_wait_from_sem_wait(self):
        with tempfile.TemporaryDirectory() as top:
            os.makedirs(os.path.join(top, "sub"))
            os.makedirs(os.path.join(top, "build", "sub"))
            with open(os.path.join(top, "sub", "shm_channel.c"), "w", encoding="utf-8") as f:
                f.write("int x;\n\tif (sem_clockwait(sem, CLOCK_MONOTONIC, &slice) == 0)\n")
            exe = os.path.join(top, "build", "sub", "webproxy")
            waiter = sem_waiter(3, exe, 2, 4.0)
            waiter["stack"][2].update(file="sub/shm_channel.c", exe=exe, mine=True)
            self.assertEqual(snapshot.site(waiter)[0], "sem_clockwait")
            waiter["stack"][2]["line"] = 1
            self.assertEqual(snapshot.site(waiter)[0], "sem_wait")


class Parsers(unittest.TestCase):
    def test_eu_stack(self):
        stacks = snapshot.parse_eu_stack(EU_STACK)
        self.assertEqual(sorted(stacks), [8404, 8405])
        self.assertEqual(stacks[8404][2], {"func": "bqueue_pop", "module": "/b/simplecached",
                                           "file": "lab/bqueue.c", "line": 102})
        self.assertEqual(stacks[8404][3]["file"], "")
        self.assertEqual(stacks[8405][0]["func"], "__new_sem_trywait")

    def test_gdb(self):
        stacks = snapshot.parse_gdb(GDB, "/tmp/semwait")
        self.assertEqual(stacks[7563][1], {"func": "spin", "module": "/tmp/semwait", "file": "/tmp/semwait.c", "line": 5})
        self.assertNotEqual(stacks[7563][0]["module"], "/tmp/semwait")
        self.assertEqual(stacks[7561][0]["module"], "/lib/libc.so.6")

    def test_glibc_names_become_the_call_the_program_made(self):
        for internal, call in [("__new_sem_wait_slow64.constprop.0", "sem_wait"), ("__new_sem_clockwait", "sem_clockwait"),
                               ("__GI___mq_timedreceive", "mq_receive"), ("__pthread_clockjoin_ex", "pthread_join"),
                               ("___pthread_cond_timedwait64", "pthread_cond_timedwait"),
                               ("__lll_lock_wait", "pthread_mutex_lock"), ("__GI___sigtimedwait", "sigwait")]:
            self.assertEqual(snapshot.call_name(internal), call, internal)


if __name__ == "__main__":
    unittest.main()
