#!/usr/bin/env python3
"""Generates vigil's demo feeds with a fixed seed (python3 make-demo.py, from this directory).

- hai-monthly.csv: monthly HAI counts. 160 acute care hospitals (ACH; CLABSI, CAUTI, CDI, MRSA, NB2 counts
  around a log-linear model of teaching status, bed size and ICU share), 30 critical access hospitals (CAH;
  CLABSI and CDI from NHSN's 2022-baseline CAH models), 20 LTACHs (CAUTI, NHSN's LTACH model) and 12 NICUs
  (CLABSI per birthweight category, facility_id "<orgID>:<category>"), 2022-01 to 2025-06. A few
  facilities have outbreaks (rate x2.5 to x4) from 2024-07 on, so the demo shows real alerts.
- ssi-colo.csv: 12 hospitals' colon surgeries 2023-01 to 2025-06 with age, ASA class and wound class; one
  hospital's SSI odds triple from 2025-01.
- admissions-weekly.csv: weekly hospital admissions of 40 hospitals, 2023-W01 to 2025-W26, with a
  respiratory-season surge at two hospitals in 2025.
- nursing-homes.csv: 80 nursing homes by month, 2023-01 to 2025-06: C. difficile and UTI per resident days,
  falls with major injury out of residents and pressure ulcers out of high-risk residents (beta-binomial).
- readmissions.csv (30-day readmissions out of discharges, 60 hospitals by month) and
  readmissions-patients.csv (8 hospitals' discharges, patient by patient).
- vae-monthly.csv: ventilator-associated events per ventilator days, 50 hospitals by month.
"""
import datetime
import math
import random

rng = random.Random(20261122)


def poisson(lam):
    if lam > 50:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p < l:
            return k
        k += 1


def negbin(mu, theta):
    return poisson(rng.gammavariate(theta, mu / theta))


months = [f"{y}-{m:02d}" for y in range(2022, 2026) for m in range(1, 13)][:42]
outbreak_from = months.index("2024-07")

with open("hai-monthly.csv", "w") as f:
    f.write("facility_id,measure,period,events,exposure,facility_type,teaching,bedsize,icu_share,"
            "critical_care,alos,outpatient_co_prev,inpatient_co_prev,cdi_test_type,beds,icu_bed_share\n")
    # Acute care hospitals: NB2 (theta 3) around a fitted-style model.
    base = {"CLABSI": (-7.2, "line days", 300, 3000), "CAUTI": (-7.4, "catheter days", 400, 4000),
            "CDI": (-9.3, "patient days", 3000, 20000), "MRSA": (-10.2, "patient days", 3000, 20000)}
    for i in range(160):
        fid = f"{330100 + i}"
        teaching = rng.random() < 0.3
        bedsize = rng.choice(["small", "medium", "large"])
        icu = round(rng.uniform(0.05, 0.35), 3)
        for measure, (b0, _, lo, hi) in base.items():
            size = {"small": 0.5, "medium": 1.0, "large": 2.0}[bedsize]
            eta = b0 + 0.25 * teaching + {"small": 0, "medium": 0.15, "large": 0.3}[bedsize] + 1.2 * icu
            shift = 3.0 if (i, measure) in {(7, "CLABSI"), (42, "CAUTI"), (99, "CDI"), (123, "MRSA"), (150, "CLABSI")} else 1.0
            for t, period in enumerate(months):
                exposure = round(rng.uniform(lo, hi) * size)
                mu = math.exp(eta) * exposure * (shift if t >= outbreak_from else 1.0)
                f.write(f"{fid},{measure},{period},{negbin(mu, 3.0)},{exposure},ACH,{'yes' if teaching else 'no'},"
                        f"{bedsize},{icu},,,,,,,\n")
    # Critical access hospitals: NHSN 2022 CAH models (CLABSI, CDI).
    for i in range(30):
        fid = f"{150100 + i}"
        cc = rng.random() < 0.4
        alos = round(rng.uniform(2.0, 12.0), 1)
        out_prev = round(max(0.0, rng.gauss(0.05, 0.05)), 3)
        in_prev = round(rng.uniform(0.0, 0.6), 3)
        test = rng.choice(["NAAT", "EIA"])
        beds = rng.randint(10, 25)
        eta_clabsi = -9.029 + (1.598 if cc else (1.027 if alos >= 8.9 else 0))
        eta_cdi = (-9.4938 + 0.4943 * (out_prev > 0) + 0.4895 * (in_prev >= 0.313) + 0.3893 * (test == "NAAT")
                   + 0.5290 * (alos >= 2.6) + 0.2403 * (beds < 25))
        for t, period in enumerate(months):
            line_days = rng.randint(40, 250)
            patient_days = rng.randint(200, 700)
            s = 4.0 if i == 3 and t >= outbreak_from else 1.0
            common = f"CAH,,,,{'yes' if cc else 'no'},{alos},{out_prev},{in_prev},{test},{beds},"
            f.write(f"{fid},CLABSI,{period},{poisson(math.exp(eta_clabsi) * line_days * s)},{line_days},{common}\n")
            s = 3.0 if i == 11 and t >= outbreak_from else 1.0
            f.write(f"{fid},CDI,{period},{poisson(math.exp(eta_cdi) * patient_days * 10 * s)},{patient_days * 10},{common}\n")
    # LTACHs: NHSN 2022 CAUTI model.
    for i in range(20):
        fid = f"{452000 + i}"
        alos = round(rng.uniform(18, 34), 1)
        icu_share = round(rng.uniform(0.0, 0.25), 3)
        eta = -7.8086 + (0.5783 if 22.2 <= alos < 27.8 else 0) + (1.1001 if alos >= 27.8 else 0) + 0.3579 * (icu_share < 0.103)
        for t, period in enumerate(months):
            days = rng.randint(600, 1800)
            s = 3.0 if i == 5 and t >= outbreak_from else 1.0
            f.write(f"{fid},CAUTI,{period},{poisson(math.exp(eta) * days * s)},{days},LTACH,,,,,{alos},,,,,{icu_share}\n")
    # NICUs: NHSN 2022 NICU CLABSI model, one series per birthweight category.
    with open("nicu-clabsi.csv", "w") as g:
        g.write("facility_id,measure,period,events,exposure,birthweight,icu_beds,alos\n")
        bw_beta = {"A": 1.3132, "B": 0.8392, "C": 0.2747, "D": 0.0, "E": 0.0}
        for i in range(12):
            org = f"NICU{i + 1:02d}"
            beds = rng.randint(20, 80)
            alos = round(rng.uniform(3.5, 7.0), 1)
            for bw, beta in bw_beta.items():
                eta = -7.7658 + beta + 0.3514 * (beds < 56) + 0.1957 * (alos >= 4.9)
                for t, period in enumerate(months):
                    days = rng.randint(50, 400)
                    s = 3.0 if org == "NICU04" and bw == "A" and t >= outbreak_from else 1.0
                    g.write(f"{org}:{bw},CLABSI_NICU,{period},{poisson(math.exp(eta) * days * s)},{days},{bw},{beds},{alos}\n")

# Colon surgeries (patient level).
with open("ssi-colo.csv", "w") as f:
    f.write("facility_id,measure,time,outcome,episode_id,age,asa,wound_class\n")
    start = datetime.date(2023, 1, 1)
    n = 0
    for h in range(12):
        fid = f"{330100 + h * 7}"
        for _ in range(380):
            day = start + datetime.timedelta(days=rng.randint(0, 910))
            age = max(18, min(95, int(rng.gauss(64, 12))))
            asa = rng.choices(["I", "II", "III", "IV"], [0.1, 0.45, 0.38, 0.07])[0]
            wound = rng.choices(["clean-contaminated", "contaminated", "dirty"], [0.7, 0.2, 0.1])[0]
            lp = (-3.1 + 0.015 * (age - 64) + {"I": 0, "II": 0.3, "III": 0.7, "IV": 1.0}[asa]
                  + {"clean-contaminated": 0, "contaminated": 0.35, "dirty": 0.6}[wound])
            if h == 4 and day >= datetime.date(2025, 1, 1):
                lp += math.log(3)
            n += 1
            outcome = 1 if rng.random() < 1 / (1 + math.exp(-lp)) else 0
            f.write(f"{fid},SSI_COLO,{day.isoformat()},{outcome},S{n:06d},{age},{asa},{wound}\n")

# Weekly admissions.
with open("admissions-weekly.csv", "w") as f:
    f.write("facility_id,measure,period,events,exposure\n")
    weeks = []
    d = datetime.date.fromisocalendar(2023, 1, 1)
    while d <= datetime.date.fromisocalendar(2025, 26, 1):
        y, w, _ = d.isocalendar()
        weeks.append((f"{y}-W{w:02d}", w))
        d += datetime.timedelta(days=7)
    for i in range(40):
        fid = f"{330100 + i}"
        beds = rng.randint(60, 600)
        for label, w in weeks:
            season = 1 + 0.04 * math.cos(2 * math.pi * (w - 3) / 52)
            surge = 1.6 if i in (8, 31) and label >= "2025-W02" and label <= "2025-W12" else 1.0
            f.write(f"{fid},ADMISSIONS,{label},{negbin(beds * 0.35 * season * surge, 60.0)},{beds}\n")

# The planted changes (read by `vigil replay --truth` and scripts/demo): model, facility, first period or day.
with open("truth.csv", "w") as f:
    f.write("model,facility_id,from\n")
    for i, measure in [(7, "CLABSI"), (42, "CAUTI"), (99, "CDI"), (123, "MRSA"), (150, "CLABSI")]:
        f.write(f"{measure.lower()}-acute,{330100 + i},2024-07\n")
    f.write("nhsn-clabsi-cah,150103,2024-07\n")
    f.write("nhsn-cdi-cah,150111,2024-07\n")
    f.write("nhsn-cauti-ltach,452005,2024-07\n")
    f.write("nhsn-clabsi-nicu,NICU04:A,2024-07\n")
    f.write(f"ssi-colo,{330100 + 4 * 7},2025-01-01\n")
    for i in (8, 31):
        f.write(f"admissions-weekly,{330100 + i},2025-W02\n")

# Nursing homes, readmissions and ventilator-associated events: their own seeded generator, so the feeds
# above stay as they were.
rng = random.Random(20261201)


def binomial(n, p):
    return sum(1 for _ in range(n) if rng.random() < p)


def beta_binomial(n, p, rho):
    c = (1 - rho) / rho
    return binomial(n, rng.betavariate(p * c, (1 - p) * c))


nh_months = [m for m in months if m >= "2023-01"]
nh_change = nh_months.index("2024-07")
with open("nursing-homes.csv", "w") as f:
    # LTC_CDI and LTC_UTI per resident days (exposure); falls with major injury out of residents and
    # pressure ulcers out of high-risk residents (trials). Home 7's falls odds x2.5 and home 31's C. difficile
    # rate x3 from 2024-07.
    f.write("facility_id,measure,period,events,exposure,trials,beds,short_stay_share\n")
    for i in range(80):
        fid = f"NH{675000 + i}"
        beds = rng.randint(40, 220)
        short = round(rng.uniform(0.05, 0.5), 3)
        for t, period in enumerate(nh_months):
            residents = max(10, int(beds * rng.uniform(0.75, 0.95)))
            days = residents * 30
            high_risk = max(1, int(residents * rng.uniform(0.2, 0.35)))
            cdi = 3.0 if i == 31 and t >= nh_change else 1.0
            mu_cdi = math.exp(-8.9 + 1.1 * short) * days * cdi
            mu_uti = math.exp(-8.0 + 0.6 * short) * days
            odds = 2.5 if i == 7 and t >= nh_change else 1.0
            p_fall = 1 / (1 + math.exp(-(-3.7 + 0.8 * short + math.log(odds))))
            p_ulcer = 1 / (1 + math.exp(-(-2.6 + 1.0 * short)))
            common = f"{beds},{short}"
            f.write(f"{fid},LTC_CDI,{period},{negbin(mu_cdi, 4.0)},{days},,{common}\n")
            f.write(f"{fid},LTC_UTI,{period},{negbin(mu_uti, 4.0)},{days},,{common}\n")
            f.write(f"{fid},FALLS_MAJOR_INJURY,{period},{beta_binomial(residents, p_fall, 0.01)},,{residents},{common}\n")
            f.write(f"{fid},PRESSURE_ULCERS,{period},{beta_binomial(high_risk, p_ulcer, 0.02)},,{high_risk},{common}\n")

with open("readmissions.csv", "w") as f:
    # 30-day readmissions out of discharges by month, 60 hospitals; hospital 330112's odds x1.8 from 2024-07.
    f.write("facility_id,measure,period,events,trials,teaching,medicare_share\n")
    for i in range(60):
        fid = f"{330100 + i}"
        teaching = rng.random() < 0.3
        medicare = round(rng.uniform(0.3, 0.7), 3)
        size = rng.randint(80, 600)
        for t, period in enumerate(nh_months):
            discharges = max(20, int(size * rng.uniform(0.8, 1.2)))
            eta = -2.2 + 0.1 * teaching + 0.8 * (medicare - 0.5)
            if i == 12 and t >= nh_change:
                eta += math.log(1.8)
            p = 1 / (1 + math.exp(-eta))
            f.write(f"{fid},READM_30,{period},{beta_binomial(discharges, p, 0.003)},{discharges},"
                    f"{'yes' if teaching else 'no'},{medicare}\n")

with open("readmissions-patients.csv", "w") as f:
    # Discharges of 8 hospitals, patient by patient, with age and a comorbidity score; hospital 330105's
    # readmission odds x2 from 2025-01.
    f.write("facility_id,measure,time,outcome,episode_id,age,comorbidity\n")
    start = datetime.date(2023, 1, 1)
    n = 0
    for h in range(8):
        fid = f"{330100 + h}"
        for _ in range(900):
            day = start + datetime.timedelta(days=rng.randint(0, 910))
            age = max(65, min(100, int(rng.gauss(77, 7))))
            comorbidity = rng.choices([0, 1, 2, 3], [0.3, 0.35, 0.25, 0.1])[0]
            lp = -2.3 + 0.02 * (age - 77) + 0.35 * comorbidity
            if h == 5 and day >= datetime.date(2025, 1, 1):
                lp += math.log(2)
            n += 1
            outcome = 1 if rng.random() < 1 / (1 + math.exp(-lp)) else 0
            f.write(f"{fid},READM_30_PATIENT,{day.isoformat()},{outcome},D{n:06d},{age},{comorbidity}\n")

with open("vae-monthly.csv", "w") as f:
    # Ventilator-associated events per ventilator days, 50 hospitals; hospital 330120's rate x3 from 2024-07.
    f.write("facility_id,measure,period,events,exposure,icu_type\n")
    for i in range(50):
        fid = f"{330100 + i}"
        icu = rng.choice(["medical", "surgical", "medical-surgical"])
        for t, period in enumerate(nh_months):
            vent_days = rng.randint(60, 900)
            s = 3.0 if i == 20 and t >= nh_change else 1.0
            mu = math.exp(-5.6 + {"medical": 0.2, "surgical": 0.0, "medical-surgical": 0.1}[icu]) * vent_days * s
            f.write(f"{fid},VAE,{period},{negbin(mu, 5.0)},{vent_days},{icu}\n")

with open("truth.csv", "a") as f:
    f.write("nh-falls,NH675007,2024-07\n")
    f.write("ltc-cdi,NH675031,2024-07\n")
    f.write("readmissions-facility,330112,2024-07\n")
    f.write("readmissions-patient,330105,2025-01-01\n")
    f.write("vae-acute,330120,2024-07\n")
