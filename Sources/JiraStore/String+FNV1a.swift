extension String {
    /// FNV-1a, 64 bits, over the UTF-8 bytes: a stable hash (the same in every process and run,
    /// unlike `hashValue`), for migration checksums and for splitting a batch by user.
    public var fnv1a64: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}
