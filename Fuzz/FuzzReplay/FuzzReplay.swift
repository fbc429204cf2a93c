#if canImport(Glibc)
import Glibc
#endif

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ test: FuzzReplay.TestOneInput) -> Int32
#endif

/// The replayer a fuzz target is in a plain build: each file named on the command line (or every
/// file of each directory named) through the target's check once; exit 0 when none trapped.
public enum FuzzReplay {
    public typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

    public typealias Check = (UnsafeBufferPointer<UInt8>) -> Void

    #if FUZZING
    /// The target's check, set once by `driver` before libFuzzer calls `testOneInput`.
    nonisolated(unsafe) static var check: Check?

    /// libFuzzer's own main loop (`LLVMFuzzerRunDriver`, in the fuzzer runtime a -sanitize=fuzzer
    /// build links), with the process's arguments (-max_total_time=..., the corpus directory),
    /// feeding every input to `check`.
    public static func driver(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                              _ check: @escaping Check) -> Int32 {
        Self.check = check
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments, testOneInput)
    }

    /// One input, from libFuzzer: through the target's check.
    static let testOneInput: TestOneInput = { data, size in LLVMFuzzerTestOneInput(data, size) }
    #endif

    /// `bytes` cut into the pieces a network might deliver them in, chosen by `seed` (a target
    /// takes it from its input's first byte, so the fuzzer explores the cuts too): the low three
    /// bits pick the largest piece (1 byte up to all at once), the rest vary the sizes below it.
    public static func pieces(_ bytes: [UInt8], seed: UInt8) -> [ArraySlice<UInt8>] {
        let largest = [1, 2, 3, 7, 16, 64, 512, Int.max][Int(seed & 7)]
        var state = UInt32(seed) &* 2_654_435_761 | 1
        var pieces: [ArraySlice<UInt8>] = []
        var start = 0
        while start < bytes.count {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            let size = largest == Int.max ? bytes.count : 1 + Int(state % UInt32(largest))
            let end = min(bytes.count, start + size)
            pieces.append(bytes[start..<end])
            start = end
        }
        return pieces
    }

    public static func run(_ check: Check) {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            for file in files(path) {
                guard let bytes = read(file) else {
                    print("cannot read \(file)")
                    exit(1)
                }
                bytes.withUnsafeBufferPointer(check)
                count += 1
            }
        }
        print("\(count) inputs replayed")
    }

    static func files(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(path + "/" + name) }
        }
        return names.sorted()
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[..<n]
        }
        return bytes
    }
}

#if FUZZING
/// The symbol libFuzzer's runtime links against, once for every target (each links this module):
/// an input through the check the target's `driver` call set.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    if let data { FuzzReplay.check?(UnsafeBufferPointer(start: data, count: size)) }
    return 0
}
#endif
