#!/usr/bin/env python3
"""Secret values of p256-sign's signing, public-key derivation and ECDH, for the RAM scan
test (rust/m33-tests/src/bin/sign_leaves_no_secret.rs); its output, formatted by rustfmt, is
rust/m33-tests/src/sign_leaves_no_secret_cases.rs. Pure Python integers,
hashlib and hmac; the comb and the variable-base multiplication below follow
rust/p256-sign/src/point.rs step by step."""
import hashlib
import hmac
import struct
import sys

p = 2**256 - 2**224 + 2**192 + 2**96 - 1
n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
R = 2**256
G = (0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
     0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5)


def aff_add(P, Q):
    if P is None:
        return Q
    if Q is None:
        return P
    if P[0] == Q[0]:
        if (P[1] + Q[1]) % p == 0:
            return None
        lam = 3 * (P[0] ** 2 - 1) * pow(2 * P[1], -1, p) % p
    else:
        lam = (Q[1] - P[1]) * pow(Q[0] - P[0], -1, p) % p
    x = (lam * lam - P[0] - Q[0]) % p
    return (x, (lam * (P[0] - x) - P[1]) % p)


def aff_mul(k, P):
    acc = None
    while k:
        if k & 1:
            acc = aff_add(acc, P)
        P = aff_add(P, P)
        k >>= 1
    return acc


# TABLE[i][j] = (2j + 1) 32^i G (the comb's 5-bit windows)
TABLE = []
base = G
for i in range(52):
    row, twice, cur = [], aff_add(base, base), base
    for j in range(16):
        row.append(cur)
        cur = aff_add(cur, twice)
    TABLE.append(row)
    base = aff_mul(32, base)


def add_mixed(q, pt):
    X, Y, Z = q
    z1z1 = Z * Z % p
    u2 = pt[0] * z1z1 % p
    s2 = pt[1] * (Z * z1z1 % p) % p
    h = (u2 - X) % p
    r = (s2 - Y) % p
    hh = h * h % p
    hhh = h * hh % p
    v = X * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - Y * hhh) % p
    z3 = Z * h % p
    return (x3, y3, z3), h


def bits5(k, i):
    return (k >> (4 * i)) & 0x1F


def bits6(k, i):
    return (k >> (5 * i)) & 0x3F


def comb_digit_point(window, v):
    positive = (v >> 5) & 1
    index = ((v >> 1) & 15) ^ (0 if positive else 15)
    x, y = window[index]
    return (x, y if positive else (-y) % p)


def digit_point(window, v):
    positive = (v >> 4) & 1
    index = ((v >> 1) & 7) ^ (0 if positive else 7)
    x, y = window[index]
    return (x, y if positive else (-y) % p)


def comb_table(P):
    """point::comb_table: table[i][j] = (2j + 1) 32^i P."""
    table, base = [], P
    for i in range(52):
        row, twice, cur = [], aff_add(base, base), base
        for j in range(16):
            row.append(cur)
            cur = aff_add(cur, twice)
        table.append(row)
        base = aff_mul(32, base)
    return table


def mul_base(k, table=None, P=G):
    """point::mul_base (point::mul_comb over the table of P): (odd scalar, Jacobian
    X, Y, Z) of k P."""
    table = TABLE if table is None else table
    even = k % 2 == 0
    kk = n - k if even else k
    px, py = comb_digit_point(table[0], bits6(kk, 0) | 1)
    q = (px, py, 1)
    for i in range(1, 51):
        q, _ = add_mixed(q, comb_digit_point(table[i], bits6(kk, i) | 1))
    assert (kk >> 255) | 1 == 1
    pt = table[51][0]
    q, h = add_mixed(q, pt)
    assert h != 0
    X, Y, Z = q
    if even:
        Y = (-Y) % p
    x = X * pow(Z, -2, p) % p
    assert (x, Y * pow(Z, -3, p) % p) == aff_mul(k, P)
    return kk, X, Y, Z


def sha256_compress(state, block):
    K = [int(x, 16) for x in """428a2f98 71374491 b5c0fbcf e9b5dba5 3956c25b 59f111f1 923f82a4 ab1c5ed5
    d807aa98 12835b01 243185be 550c7dc3 72be5d74 80deb1fe 9bdc06a7 c19bf174 e49b69c1 efbe4786 0fc19dc6 240ca1cc
    2de92c6f 4a7484aa 5cb0a9dc 76f988da 983e5152 a831c66d b00327c8 bf597fc7 c6e00bf3 d5a79147 06ca6351 14292967
    27b70a85 2e1b2138 4d2c6dfc 53380d13 650a7354 766a0abb 81c2c92e 92722c85 a2bfe8a1 a81a664b c24b8b70 c76c51a3
    d192e819 d6990624 f40e3585 106aa070 19a4c116 1e376c08 2748774c 34b0bcb5 391c0cb3 4ed8aa4a 5b9cca4f 682e6ff3
    748f82ee 78a5636f 84c87814 8cc70208 90befffa a4506ceb bef9a3f7 c67178f2""".split()]
    rotr = lambda x, s: ((x >> s) | (x << (32 - s))) & 0xFFFFFFFF
    w = list(struct.unpack(">16I", block))
    for t in range(16, 64):
        s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
        s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
        w.append((w[t - 16] + s0 + w[t - 7] + s1) & 0xFFFFFFFF)
    a, b, c, d, e, f, g, h = state
    for t in range(64):
        t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t]) & 0xFFFFFFFF
        t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) & 0xFFFFFFFF
        a, b, c, d, e, f, g, h = (t1 + t2) & 0xFFFFFFFF, a, b, c, (d + t1) & 0xFFFFFFFF, e, f, g
    return [(x + y) & 0xFFFFFFFF for x, y in zip(state, [a, b, c, d, e, f, g, h])]


H0 = [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19]
# Self-check of the compression against hashlib: one padded empty message.
assert struct.pack(">8I", *sha256_compress(H0, b"\x80" + bytes(63))) == hashlib.sha256(b"").digest()


def midstate(block):
    """SHA-256's state words after one 64-byte block, as the u32s sha2 keeps."""
    return b"".join(struct.pack("<I", x) for x in sha256_compress(H0, block))


def be(x):
    return x.to_bytes(32, "big")


def le(x):
    return x.to_bytes(32, "little")


def swapped(b):
    """Each 4-byte group reversed: a SHA-256 state or message word array holding b."""
    return b"".join(b[i:i + 4][::-1] for i in range(0, len(b), 4))


def signed30(x):
    return b"".join(struct.pack("<I", (x >> (30 * i)) & 0x3FFFFFFF) for i in range(9))


def drbg(x, h):
    """RFC 6979 3.2 as RustCrypto rfc6979 0.4 (the digest itself as h1)."""
    mac = lambda key, msg: hmac.new(key, msg, hashlib.sha256).digest()
    K, V = bytes(32), b"\x01" * 32
    K1 = mac(K, V + b"\x00" + x + h)
    V1 = mac(K1, V)
    K2 = mac(K1, V1 + b"\x01" + x + h)
    V2 = mac(K2, V1)
    V3 = mac(K2, V2)
    k = int.from_bytes(V3, "big")
    assert 1 <= k < n
    return k, [("K1", K1), ("V1", V1), ("K2", K2), ("V2", V2)]


def pads(name, K):
    out = []
    for pad_name, c in (("ipad", 0x36), ("opad", 0x5C)):
        block = bytes(b ^ c for b in K) + bytes([c]) * 32
        out.append((f"{name} ^ {pad_name}", block[:32]))
        out.append((f"SHA-256 state after {name} ^ {pad_name}", midstate(block)))
    return out


def sign_case(d, digest):
    k, state = drbg(be(d), digest)
    kk, X, Y, Z = mul_base(k)
    x = X * pow(Z, -2, p) % p
    r = x % n
    e = int.from_bytes(digest, "big") % n
    kinv = pow(k, -1, n)
    s = kinv * (e + r * d) % n
    needles = [
        ("k (big-endian: the last V)", be(k)),
        ("k (limbs)", le(k)),
        ("k (word-swapped)", swapped(be(k))),
        ("n - k (limbs)", le(n - k)),
        ("k R mod n", le(k * R % n)),
        ("k (signed30)", signed30(k)),
        ("k^-1 (limbs)", le(kinv)),
        ("k^-1 R mod n", le(kinv * R % n)),
        ("k^-1 (signed30)", signed30(kinv)),
        ("kG Jacobian X", le(X)),
        ("kG Jacobian Y", le(Y)),
        ("kG Jacobian -Y", le((-Y) % p)),
        ("kG Jacobian Z", le(Z)),
        ("kG Z^-1", le(pow(Z, -1, p))),
        ("kG Z^-2", le(pow(Z, -2, p))),
        ("kG Z (signed30)", signed30(Z)),
        ("kG Z^-1 (signed30)", signed30(pow(Z, -1, p))),
        ("r d mod n", le(r * d % n)),
        ("e + r d mod n", le((e + r * d) % n)),
    ] + key_needles(d)
    for name, v in state:
        needles.append((name, v))
        needles.append((name + " (word-swapped)", swapped(v)))
        if name.startswith("K"):
            needles += pads(name, v)
    return k, be(r) + be(s), needles


def key_needles(d):
    return [
        ("d (big-endian)", be(d)),
        ("d (limbs)", le(d)),
        ("d (word-swapped)", swapped(be(d))),
        ("d R mod n", le(d * R % n)),
    ]


def public_case(d):
    dd, X, Y, Z = mul_base(d)
    Q = aff_mul(d, G)
    needles = key_needles(d) + [
        ("n - d (limbs)", le(n - d)),
        ("dG Jacobian X", le(X)),
        ("dG Jacobian Y", le(Y)),
        ("dG Jacobian -Y", le((-Y) % p)),
        ("dG Jacobian Z", le(Z)),
        ("dG Z^-1", le(pow(Z, -1, p))),
        ("dG Z^-2", le(pow(Z, -2, p))),
        ("dG Z^-3", le(pow(Z, -3, p))),
        ("dG Z (signed30)", signed30(Z)),
        ("dG Z^-1 (signed30)", signed30(pow(Z, -1, p))),
    ]
    return b"\x04" + be(Q[0]) + be(Q[1]), needles


def jac_double(q):
    """point::double (a = -3): the Jacobian representation p256-sign computes."""
    X, Y, Z = q
    delta = Z * Z % p
    gamma = Y * Y % p
    beta4 = 4 * X * gamma % p
    alpha = 3 * (X - delta) * (X + delta) % p
    x3 = (alpha * alpha - 2 * beta4) % p
    y3 = (alpha * (beta4 - x3) - 8 * gamma * gamma) % p
    return x3, y3, 2 * Y * Z % p


def mul_var(k, P):
    """point::mul (ECDH): (odd scalar, Jacobian X, Y, Z before and after the last
    addition) of k P, with the table of P, 3P, .., 15P in affine coordinates."""
    even = k % 2 == 0
    kk = n - k if even else k
    table = [aff_mul(2 * j + 1, P) for j in range(8)]
    x, y = table[bits5(kk, 63) >> 1]
    q = (x, y, 1)
    for i in range(62, -1, -1):
        for _ in range(4):
            q = jac_double(q)
        before = q
        q, h = add_mixed(q, digit_point(table, bits5(kk, i) | 1))
        assert h != 0  # the doubling case (k = n - 2 or 2) is not among the cases
    X, Y, Z = q
    if even:
        Y = (-Y) % p
    assert (X * pow(Z, -2, p) % p, Y * pow(Z, -3, p) % p) == aff_mul(k, P)
    return kk, before, (X, Y, Z)


def ecdh_case(d, peer):
    dd, before, (X, Y, Z) = mul_var(d, peer)
    shared = aff_mul(d, peer)[0]
    needles = key_needles(d) + [
        ("n - d (limbs)", le(n - d)),
        ("dP before the last addition, Jacobian X", le(before[0])),
        ("dP before the last addition, Jacobian Y", le(before[1])),
        ("dP before the last addition, Jacobian Z", le(before[2])),
        ("dP Jacobian X", le(X)),
        ("dP Jacobian Y", le(Y)),
        ("dP Jacobian -Y", le((-Y) % p)),
        ("dP Jacobian Z", le(Z)),
        ("dP Z^-1", le(pow(Z, -1, p))),
        ("dP Z^-2", le(pow(Z, -2, p))),
        ("dP Z (signed30)", signed30(Z)),
        ("dP Z^-1 (signed30)", signed30(pow(Z, -1, p))),
    ]
    return be(shared), needles


def prepared_case(d, peer):
    """public_key_and_diffie_hellman: d G and d P by the comb, one inversion of
    Z1 Z2 for both (point::to_affine_and_x)."""
    _, X1, Y1, Z1 = mul_base(d)
    _, X2, Y2, Z2 = mul_base(d, comb_table(peer), peer)
    Q = aff_mul(d, G)
    shared = aff_mul(d, peer)[0]
    z12 = Z1 * Z2 % p
    inv = pow(z12, -1, p)
    needles = key_needles(d) + [
        ("n - d (limbs)", le(n - d)),
        ("dG Jacobian X", le(X1)),
        ("dG Jacobian Y", le(Y1)),
        ("dG Jacobian -Y", le((-Y1) % p)),
        ("dG Jacobian Z", le(Z1)),
        ("dP Jacobian X", le(X2)),
        ("dP Jacobian Y", le(Y2)),
        ("dP Jacobian -Y", le((-Y2) % p)),
        ("dP Jacobian Z", le(Z2)),
        ("Z1 Z2", le(z12)),
        ("(Z1 Z2)^-1", le(inv)),
        ("Z1 Z2 (signed30)", signed30(z12)),
        ("(Z1 Z2)^-1 (signed30)", signed30(inv)),
        ("dG Z^-1", le(pow(Z1, -1, p))),
        ("dG Z^-2", le(pow(Z1, -2, p))),
        ("dG Z^-3", le(pow(Z1, -3, p))),
        ("dP Z^-1", le(pow(Z2, -1, p))),
        ("dP Z^-2", le(pow(Z2, -2, p))),
    ]
    return b"\x04" + be(Q[0]) + be(Q[1]) + be(shared), needles


# The build's ENCRYPT0 recipient (rust/partitions/src/inference/mod.rs, the demo key).
DEMO_RECIPIENT = (0x1F4AF89AF4F526492DDB75009C75803FB56877AA4970F20178511DAEE149DCC1,
                  0xDACD71B07B1FA30E51016A1572A63B83FA075914955E45FE7FE7038E25D1EF07)
# What the test's RNG returns for the ephemeral seed, and the first result's counter.
ENCRYPT0_SEED = b"\x42" * 32
ENCRYPT0_COUNTER = 0


def hkdf(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm, i = okm + t, i + 1
    return prk, okm[:length]


def encrypt0_case():
    """partitions' encrypt0 (results.rs): the ephemeral scalar and IV from
    HKDF(salt = counter, IKM = the RNG's 32 bytes, "si.v1.encrypt0"), the shared
    secret x(d R), then the content key HKDF(no salt, shared, COSE_KDF_Context)."""
    prk_e, okm = hkdf(ENCRYPT0_COUNTER.to_bytes(8, "little"), ENCRYPT0_SEED, b"si.v1.encrypt0", 44)
    d = int.from_bytes(okm[:32], "big")
    assert 0 < d < n
    shared = be(aff_mul(d, DEMO_RECIPIENT)[0])
    # [3, [null, null, null], [null, null, null], [256, h'a1013818']]
    context = bytes.fromhex("8403" + "83f6f6f6" * 2 + "82190100" + "44a1013818")
    prk, cek = hkdf(bytes(32), shared, context, 32)
    # The HKDF's output is d || IV: d is among key_needles, the IV is in the result.
    needles = key_needles(d) + [
        ("the ephemeral HKDF's PRK", prk_e),
        ("shared secret", shared),
        ("shared secret (word-swapped)", swapped(shared)),
        ("the content key HKDF's PRK", prk),
        ("content key", cek),
        ("content key (word-swapped)", swapped(cek)),
    ] + pads("ephemeral PRK", prk_e) + pads("PRK", prk)
    return be(aff_mul(d, G)[0]), needles


def seeded(label):
    return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % (n - 1) + 1


RFC_X = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721
cases = [
    ("RFC 6979 A.2.5, message sample", RFC_X, hashlib.sha256(b"sample").digest()),
    ("RFC 6979 A.2.5, message test", RFC_X, hashlib.sha256(b"test").digest()),
    ("seeded key 1", seeded("sign_leaves_no_secret key 1"), hashlib.sha256(b"sign_leaves_no_secret digest 1").digest()),
    ("seeded key 2", seeded("sign_leaves_no_secret key 2"), hashlib.sha256(b"sign_leaves_no_secret digest 2").digest()),
]


def emit(name, key, op, expected, needles):
    print(f"    Case {{")
    print(f"        name: {name!r},".replace("'", '"'))
    print(f'        key: h("{be(key).hex()}"),')
    print(f"        op: {op},")
    if expected is None:
        print("        expected: &[],")
    else:
        parts = [expected[i:j].hex() for i, j in {97: [(0, 1), (1, 33), (33, 65), (65, 97)], 65: [(0, 1), (1, 33), (33, 65)], 64: [(0, 32), (32, 64)], 32: [(0, 32)]}[len(expected)]]
        print("        expected: &[" + ", ".join(f'"{x}"' for x in parts) + "],")
    print(f"        needles: &[")
    for nm, v in needles:
        print(f'            ("{nm}", "{v.hex()}"),')
    print(f"        ],")
    print(f"    }},")


# ECDH's peer: RFC 6979 A.2.5's public key (a public value).
PEER = aff_mul(RFC_X, G)

print("static CASES: [Case; 9] = [")
for label, d, digest in cases:
    k, sig, needles = sign_case(d, digest)
    print(f"// {label}: k = {k:064x} ({'even' if k % 2 == 0 else 'odd'})", file=sys.stderr)
    emit(label, d, 'Op::Sign(h("' + digest.hex() + '"))', sig, needles)
pub, needles = public_case(cases[2][1])
emit("public key of seeded key 1", cases[2][1], "Op::PublicKey", pub, needles)
emit("seeded key 2, made and dropped", cases[3][1], "Op::Make", None, key_needles(cases[3][1]))
shared, needles = ecdh_case(cases[2][1], PEER)
peer_hex = "04" + be(PEER[0]).hex() + be(PEER[1]).hex()
emit("ECDH of seeded key 1 with the RFC 6979 A.2.5 public key", cases[2][1], f'Op::Ecdh("{peer_hex}")', shared, needles)
both, needles = prepared_case(cases[3][1], PEER)
emit("public key and ECDH of seeded key 2 with the RFC 6979 A.2.5 public key, prepared", cases[3][1],
     f'Op::PublicKeyAndEcdh("{peer_hex}")', both, needles)
public_x, needles = encrypt0_case()
emit("an ENCRYPT0 result of the inference partition (its ephemeral public x checked)", 1, "Op::Encrypt0", public_x, needles)
print("];")
