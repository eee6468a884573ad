import Foundation

#if FUZZING
/// libFuzzer's entry point (`scripts/fuzz` builds this with `-sanitize=fuzzer,address -DFUZZING`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzTarget.selected.run(bytes)
    return 0
}
#else
/// Without libFuzzer: runs the named target over input files, to reproduce what a fuzz run found
/// (`VIGIL_FUZZ_TARGET=csv swift run vigil-fuzz crash-…`).
@main
enum Reproduce {
    static func main() {
        let target = FuzzTarget.selected
        FuzzTarget.verbose = true
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("vigil-fuzz: cannot read \(path)\n".utf8))
                exit(66)
            }
            target.run([UInt8](data))
            print("\(target.rawValue): \(path): no crash")
        }
    }
}
#endif
