import Foundation
import VigilThreads

/// Buffered writing of text lines to a new file (or `-` for standard output).
///
/// A regular file is written from one page-aligned buffer with O_DIRECT while the device takes such writes at
/// 1 GB/s or more: through the page cache, a replay's half-gigabyte trace kept a core copying into newly
/// allocated cache pages (BENCHMARKS.md). Below that (a slow volume, where the page cache may absorb the
/// writes) each block goes whichever way has been faster so far: the page cache is not always the faster —
/// on a virtual machine, with memory not touched lately, `dd` wrote 200 MB/s through it against 2 GB/s direct.
/// Where direct writes are refused (tmpfs, some network file systems), and for the last partial block, the
/// file is written through the page cache.
public final class LineWriter {
    private let fd: Int32
    private let ownsFile: Bool
    /// Whether the descriptor has O_DIRECT now, and whether it may (opened so, never refused).
    private var direct: Bool
    private var directAllowed: Bool
    /// Bytes written so far (direct writes need an aligned offset).
    private var offset = 0
    /// Bytes and seconds written each way so far.
    private(set) var directWrites = Throughput(), cachedWrites = Throughput()
    /// Whether the file took O_DIRECT when it was opened.
    let openedDirect: Bool
    /// Chooses the way of the next block (tests force a choice).
    var choosesDirect: (_ direct: Throughput, _ cached: Throughput) -> Bool = LineWriter.prefersDirect
    private static let alignment = 4096
    /// Linux's O_DIRECT (Glibc's module leaves it out: it needs _GNU_SOURCE); 0 where it is not known.
    #if os(Linux) && (arch(x86_64) || arch(i386))
    private static let directFlag: Int32 = 0o40000
    #elseif os(Linux) && arch(arm64)
    private static let directFlag: Int32 = 0o200000
    #else
    private static let directFlag: Int32 = 0
    #endif
    private static let capacity = 4 << 20
    /// `capacity` bytes, page-aligned (direct writes need an aligned address, offset and length).
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: LineWriter.capacity, alignment: LineWriter.alignment)
    private var count = 0
    /// The first failed write (a full disk), reported by `close`.
    private var failure: Int32?

    public init(path: String) throws {
        if path == "-" {
            (fd, ownsFile, direct, directAllowed, openedDirect) = (STDOUT_FILENO, false, false, false, false)
            return
        }
        let previousMode = Self.removeInBackground(path)
        let flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC
        var file = Self.directFlag == 0 ? -1 : open(path, flags | Self.directFlag, 0o666)
        direct = file >= 0
        (directAllowed, openedDirect) = (direct, direct)
        if file < 0 { file = open(path, flags, 0o666) }
        guard file >= 0 else {
            buffer.deallocate()
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path,
                                                           NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
        }
        if let previousMode { _ = fchmod(file, previousMode) }
        (fd, ownsFile) = (file, true)
    }

    /// Files from this size on are replaced by `removeInBackground`, not truncated.
    static let backgroundRemovalSize = 64 << 20

    /// Frees a large previous file at `path` off the caller's path: truncating a replay's half-gigabyte trace
    /// held the start of the next replay for 60–90 ms (BENCHMARKS.md). Its name is unlinked at once and its
    /// blocks freed when a descriptor held open is closed on another thread. Only a regular file with one link
    /// qualifies (a symbolic link or a hard-linked file is truncated in place, as before), and only one this
    /// process may write; its permission bits, returned, go to the new file. Nil, with nothing done, otherwise.
    private static func removeInBackground(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_nlink == 1,
              info.st_size >= backgroundRemovalSize, access(path, W_OK) == 0 else { return nil }
        let old = open(path, O_RDONLY | O_CLOEXEC)
        guard old >= 0 else { return nil }
        guard unlink(path) == 0 else {
            Foundation.close(old)
            return nil
        }
        Parallel.thread(named: "vigil-free-old-file", stackSize: 64 << 10) { Foundation.close(old) }
        return info.st_mode & 0o7777
    }

    deinit { buffer.deallocate() }

    public func write(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    public func write(bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        guard var from = bytes.baseAddress else { return }
        var left = bytes.count
        while left > 0 {
            let n = min(left, Self.capacity - count)
            (buffer + count).copyMemory(from: from, byteCount: n)
            (count, from, left) = (count + n, from + n, left - n)
            if count == Self.capacity { flush() }
        }
    }

    /// Bytes written one way and the seconds they took.
    struct Throughput {
        var bytes = 0
        var seconds = 0.0
        var rate: Double { seconds > 0 ? Double(bytes) / seconds : .infinity }
        mutating func add(_ n: Int, _ elapsed: Double) { (bytes, seconds) = (bytes + n, seconds + elapsed) }
    }

    /// Bytes each way must have taken before their rate is trusted.
    static let measuredBytes = 4 * capacity

    /// Direct while the device takes direct writes at 1 GB/s or more (or they are not measured yet); below
    /// that, the page cache until it is measured, then whichever way has been faster.
    static func prefersDirect(direct: Throughput, cached: Throughput) -> Bool {
        guard direct.bytes >= measuredBytes, direct.rate < 1e9 else { return true }
        guard cached.bytes >= measuredBytes else { return false }
        return direct.rate > cached.rate
    }

    /// Writes the buffer's bytes and empties it.
    private func flush() {
        let aligned = count % Self.alignment == 0 && offset % Self.alignment == 0
        setDirect(directAllowed && aligned && choosesDirect(directWrites, cachedWrites))
        var written = 0
        while written < count && failure == nil {
            let clock = Stopwatch()
            let n = Foundation.write(fd, buffer + written, count - written)
            if n < 0 {
                if errno == EINTR { continue }
                if direct && errno == EINVAL {
                    directAllowed = false
                    setDirect(false)
                    continue
                }
                failure = errno
                continue
            }
            if n == 0 {   // no progress on a regular file: a failure, not a loop
                failure = EIO
                continue
            }
            written += n
            offset += n
            if direct { directWrites.add(n, clock.elapsed) } else { cachedWrites.add(n, clock.elapsed) }
            // A short direct write leaves the offset unaligned: the rest goes through the page cache.
            if direct && offset % Self.alignment != 0 { setDirect(false) }
        }
        count = 0
    }

    /// Sets or clears O_DIRECT; a descriptor that will not take it is written through the page cache from then on.
    private func setDirect(_ on: Bool) {
        guard on != direct else { return }
        let flags = fcntl(fd, F_GETFL)
        if flags < 0 || fcntl(fd, F_SETFL, on ? flags | Self.directFlag : flags & ~Self.directFlag) != 0 {
            directAllowed = false
        }
        direct = on && directAllowed
    }

    public func close() throws {
        flush()
        if ownsFile && Foundation.close(fd) != 0 && failure == nil { failure = errno }
        if let failure { throw POSIXError(POSIXErrorCode(rawValue: failure) ?? .EIO) }
    }
}
