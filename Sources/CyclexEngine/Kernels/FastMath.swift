/// Vectorisable approximations of transcendental functions (libm per element costs ~18 ns).
public enum FastMath {
    /// tanh by a rational approximation (odd degree-13 over even degree-6 polynomial, input
    /// clamped to ±7.9055); max absolute error ≈ 3e-7 against `tanhf`.
    @inlinable @inline(__always)
    public static func tanh(_ value: Float) -> Float {
        var x = value
        if x > 7.90531110763549805 { x = 7.90531110763549805 }
        if x < -7.90531110763549805 { x = -7.90531110763549805 }
        let x2 = x * x
        var p: Float = -2.76076847742355e-16
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 + -8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * x
        var q: Float = 1.19825839466702e-06
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return p / q
    }
}
