/* SPDX-License-Identifier: BSD-3-Clause
 *
 * Abaqus-style UMAT: Norton elasto-viscoplasticity, the same law and the same algorithm as
 * distrom.mechanics.materials.Norton (backward Euler, radial return, monotone Newton on the
 * logit of the relaxed stress fraction, analytic consistent tangent).
 *
 * Build:  gcc -shared -fPIC -O2 -o libnorton_umat.so norton_umat.c -lm
 *
 * PROPS  = E, nu, K, n, alpha, T_ref   (NPROPS = 6; alpha secant from T_ref, may be 0)
 * STATEV = ep11 ep22 ep33 ep12 ep13 ep23 (viscoplastic strain, ABAQUS order, engineering
 *          shears), p (cumulated viscoplastic strain)             (NSTATV = 7)
 * Components follow Abaqus: 11 22 33 12 13 23; DDSDDE is column-major (Fortran).
 * Small strains: the law is written in total form from STRAN + DSTRAN, TEMP + DTEMP.
 * Sets PNEWDT = 0.5 if the local Newton fails.
 */
#include <math.h>
#include <stddef.h>

static double logaddexp0(double x) { /* log(1 + exp(x)) without overflow */
    return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x)));
}

void umat_(double *stress, double *statev, double *ddsdde, double *sse, double *spd,
           double *scd, double *rpl, double *ddsddt, double *drplde, double *drpldt,
           double *stran, double *dstran, double *time, double *dtime, double *temp,
           double *dtemp, double *predef, double *dpred, char *cmname, int *ndi, int *nshr,
           int *ntens, int *nstatv, double *props, int *nprops, double *coords, double *drot,
           double *pnewdt, double *celent, double *dfgrd0, double *dfgrd1, int *noel, int *npt,
           int *layer, int *kspt, int *kstep, int *kinc, size_t cmname_len)
{
    const double E = props[0], nu = props[1], K = props[2], n = props[3];
    const double alpha = props[4], T_ref = props[5];
    const double dt = *dtime, T1 = *temp + *dtemp;
    const double lam = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), mu = E / (2.0 * (1.0 + nu));
    const double eth = alpha * (T1 - T_ref);
    double ee[6], sig[6], s[6], N[6], tr, q_tr = 0.0, c, w, z, omz, dp, coef;
    int i, j, it, ok = 0;
    (void)sse; (void)spd; (void)scd; (void)rpl; (void)ddsddt; (void)drplde; (void)drpldt;
    (void)time; (void)predef; (void)dpred; (void)cmname; (void)ndi; (void)nshr; (void)ntens;
    (void)nstatv; (void)nprops; (void)coords; (void)drot; (void)celent; (void)dfgrd0;
    (void)dfgrd1; (void)noel; (void)npt; (void)layer; (void)kspt; (void)kstep; (void)kinc;
    (void)cmname_len;

    for (i = 0; i < 6; i++) ee[i] = stran[i] + dstran[i] - statev[i] - (i < 3 ? eth : 0.0);
    tr = ee[0] + ee[1] + ee[2];
    for (i = 0; i < 3; i++) sig[i] = lam * tr + 2.0 * mu * ee[i];
    for (i = 3; i < 6; i++) sig[i] = mu * ee[i];
    tr = (sig[0] + sig[1] + sig[2]) / 3.0;
    for (i = 0; i < 6; i++) s[i] = sig[i] - (i < 3 ? tr : 0.0);
    for (i = 0; i < 6; i++) q_tr += (i < 3 ? 1.0 : 2.0) * s[i] * s[i];
    q_tr = sqrt(1.5 * q_tr);

    /* n log z - log(1 - z) + c = 0 in w = logit(z); see norton_return in norton.py */
    c = log(3.0 * mu * dt / K) + (n - 1.0) * log((q_tr > 2.2250738585072014e-308 ?
                                                  q_tr : 2.2250738585072014e-308) / K);
    w = c < 0.0 ? -c : -c / n;
    for (it = 0; it < 100; it++) {
        double lz = -logaddexp0(-w), l1z = -logaddexp0(w);
        double dw = -(n * lz - l1z + c) / (n * exp(l1z) + exp(lz));
        w += dw;
        if (fabs(dw) <= 1e-14 * (fabs(w) > 1.0 ? fabs(w) : 1.0)) { ok = 1; break; }
    }
    if (!ok) { *pnewdt = 0.5; return; }
    z = exp(-logaddexp0(-w));
    omz = exp(-logaddexp0(w));
    dp = q_tr * omz / (3.0 * mu);
    for (i = 0; i < 6; i++)
        N[i] = 1.5 * s[i] / (q_tr > 2.2250738585072014e-308 ? q_tr : 2.2250738585072014e-308);

    for (i = 0; i < 6; i++) stress[i] = sig[i] - omz * s[i];
    for (i = 0; i < 6; i++) statev[i] += dp * N[i] * (i < 3 ? 1.0 : 2.0);
    statev[6] += dp;

    /* D - 2 mu (1-z) P_dev + 4/3 mu (1-z) (1 - n / (n (1-z) + z)) N N, column-major */
    coef = (4.0 / 3.0) * mu * omz * (1.0 - n / (n * omz + z));
    for (j = 0; j < 6; j++)
        for (i = 0; i < 6; i++) {
            double D = (i < 3 && j < 3 ? lam : 0.0) + (i == j ? (i < 3 ? 2.0 : 1.0) * mu : 0.0);
            double P = (i == j ? (i < 3 ? 1.0 : 0.5) : 0.0) - (i < 3 && j < 3 ? 1.0 / 3.0 : 0.0);
            ddsdde[i + 6 * j] = D - 2.0 * mu * omz * P + coef * N[i] * N[j];
        }
}
