#!/usr/bin/env python3
"""Writes a labelled transaction file shaped like the simulated data of the
fraud detection handbook (Le Borgne et al.), for `vigil replay`.

    scripts/bench/replay_data.py ROWS OUT.csv[.gz] [--seed N]

Columns: TX_ID, TX_DATETIME, CUSTOMER_ID, TERMINAL_ID, TX_AMOUNT, TX_FRAUD
(map them with --map transaction_id=TX_ID,user_id=CUSTOMER_ID,
merchant_id=TERMINAL_ID,amount=TX_AMOUNT,timestamp=TX_DATETIME,label=TX_FRAUD).

Customers spend around their own mean amount on nearby terminals at a few
transactions a day; the book's three fraud scenarios are drawn on top at
its rates: any amount above 220 is fraud; 2 in 10,000 terminals a day are
compromised for 28 days (all their transactions are fraud); 3 in 5,000
customers a day are compromised for 14 days (a third of their transactions have five times their
amount and are fraud). Rows come out in time order. Standard library only,
seeded, so the same arguments give the same file.
"""

import argparse
import datetime as dt
import gzip
import random

START = dt.datetime(2018, 4, 1)
TRANSACTIONS_PER_CUSTOMER_DAY = 2.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--customers", type=int)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    customers = args.customers or max(50, args.rows // 360)
    terminals = customers * 2
    days = max(1, round(args.rows / (customers * TRANSACTIONS_PER_CUSTOMER_DAY)))
    profiles = [
        (rng.uniform(5, 100), rng.uniform(0.5, 4.0), rng.sample(range(terminals), 20))
        for _ in range(customers)
    ]
    compromised_terminals = {}  # terminal -> last day
    compromised_customers = {}  # customer -> last day
    opener = gzip.open if args.out.endswith(".gz") else open
    written = 0
    with opener(args.out, "wt", newline="") as out:
        out.write("TX_ID,TX_DATETIME,CUSTOMER_ID,TERMINAL_ID,TX_AMOUNT,TX_FRAUD\n")
        for day in range(days):
            # The book's rates: 2 of 10,000 terminals and 3 of 5,000
            # customers a day.
            for t in rng.sample(range(terminals), poisson(rng, terminals * 0.0002)):
                compromised_terminals[t] = day + 28
            for c in rng.sample(range(customers), poisson(rng, customers * 0.0006)):
                compromised_customers[c] = day + 14
            todays = []
            for c, (mean, rate, nearby) in enumerate(profiles):
                for _ in range(poisson(rng, rate)):
                    second = int(rng.gauss(43200, 20000))
                    if not 0 <= second < 86400:
                        continue
                    amount = max(0.01, rng.gauss(mean, mean / 2))
                    terminal = rng.choice(nearby)
                    fraud = amount > 220 or compromised_terminals.get(terminal, -1) >= day
                    if compromised_customers.get(c, -1) >= day and rng.random() < 1 / 3:
                        amount *= 5
                        fraud = True
                    todays.append((second, c, terminal, round(amount, 2), int(fraud)))
            todays.sort()
            for second, c, terminal, amount, fraud in todays:
                if written == args.rows:
                    return
                time = START + dt.timedelta(days=day, seconds=second)
                out.write(f"{written},{time:%Y-%m-%d %H:%M:%S},{c},{terminal},{amount},{fraud}\n")
                written += 1
        # Fewer rows than asked when the draws fell short: say so.
        print(f"wrote {written} rows")


def poisson(rng, lam):
    """Knuth's method: fine for the small rates used here."""
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


if __name__ == "__main__":
    main()
