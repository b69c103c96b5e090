"""The benchmarks' payload file: 20,000 log-like JSON lines of exactly SIZE bytes, from a seeded
RNG, so every run and every harness (run.sh, producer.sh) writes the same bytes.

Usage: payload.py SIZE PATH
"""
import random, sys
size, path = int(sys.argv[1]), sys.argv[2]
rng = random.Random(7)
words = ["user", "order", "click", "view", "cart", "login", "error", "ok", "eu-west", "us-east",
         "mobile", "web", "checkout", "search", "payment", "session", "retry", "timeout"]
with open(path, "w") as out:
    for i in range(20000):
        s = '{"id":%d,"ts":%d,"ev":"%s","src":"%s","v":[' % (i, 1700000000000 + rng.randrange(10**9),
                                                             rng.choice(words), rng.choice(words))
        while len(s) < size - 2:
            s += (rng.choice(words) if rng.random() < 0.6 else "%x" % rng.getrandbits(32)) + ","
        s = (s[: size - 2] + "]}")
        out.write(s + "\n")
