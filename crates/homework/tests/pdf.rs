//! Handed-in PDFs: checked, drawn as one sheet, and refused with a reason when they cannot be.
//!
//! Every PDF here is written by the test itself ([`Pdf`]), with a true cross-reference table,
//! so what is tested is the reading and drawing, not a file's history.
#![allow(clippy::unwrap_used, missing_docs)]

use homework::pdf::{GAP_COLOR, MAX_PAGE_SIDE_PT, PAGE_GAP_PX};
use homework::{PdfError, PdfLimits, check_pdf, render_pdf_sheet};
use image::RgbaImage;
use proptest::prelude::*;

const WHITE: [u8; 4] = [255, 255, 255, 255];
/// An A4 page in points (rounded), as most scanners and word processors write it.
const A4: &str = "[0 0 595 842]";

/// One page of a test PDF.
struct PageSpec {
    media_box: String,
    rotate: Option<i32>,
    content: String,
}

impl PageSpec {
    /// An A4 page with a black rectangle filled at `x y w h` (points, PDF's y up).
    fn a4_with_rect(x: u32, y: u32, w: u32, h: u32) -> Self {
        Self {
            media_box: A4.into(),
            rotate: None,
            content: format!("0 0 0 rg {x} {y} {w} {h} re f"),
        }
    }
}

/// A PDF written object by object, with each object's byte offset in the xref table.
struct Pdf {
    objects: Vec<String>,
    trailer_extra: String,
    /// A file key (RC4, as the standard security handler makes it) to encrypt every stream
    /// with as it is written.
    key: Option<Vec<u8>>,
}

impl Pdf {
    /// A catalog, a page tree of `pages` and Helvetica (as `/F1`), every page with its content
    /// stream.
    fn with_pages(pages: &[PageSpec]) -> Self {
        let page_id = |i: usize| 4 + 2 * i;
        let kids: Vec<String> = (0..pages.len())
            .map(|i| format!("{} 0 R", page_id(i)))
            .collect();
        let mut objects = vec![
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            format!(
                "<< /Type /Pages /Kids [{}] /Count {} >>",
                kids.join(" "),
                pages.len()
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        ];
        for (i, page) in pages.iter().enumerate() {
            let rotate = page
                .rotate
                .map(|r| format!(" /Rotate {r}"))
                .unwrap_or_default();
            objects.push(format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox {}{rotate} \
                 /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                page.media_box,
                page_id(i) + 1
            ));
            objects.push(format!(
                "<< /Length {} >>\nstream\n{}\nendstream",
                page.content.len() + 1,
                page.content
            ));
        }
        Self {
            objects,
            trailer_extra: String::new(),
            key: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in self.objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend(format!("{} 0 obj\n", i + 1).bytes());
            match (&self.key, object.split_once("stream\n")) {
                (Some(key), Some((dict, data))) => {
                    // The data /Length counts (the content and its newline), encrypted with
                    // the object's own key.
                    let data = data.strip_suffix("endstream").unwrap();
                    out.extend(dict.bytes().chain("stream\n".bytes()));
                    out.extend(rc4(&object_key(key, i + 1), data.as_bytes()));
                    out.extend(b"\nendstream");
                }
                _ => out.extend(object.bytes()),
            }
            out.extend(b"\nendobj\n");
        }
        let xref = out.len();
        let size = self.objects.len() + 1;
        out.extend(format!("xref\n0 {size}\n0000000000 65535 f \n").bytes());
        for offset in offsets {
            // Exactly 20 bytes an entry, as the table requires.
            out.extend(format!("{offset:010} 00000 n \n").bytes());
        }
        out.extend(
            format!(
                "trailer\n<< /Size {size} /Root 1 0 R{} >>\nstartxref\n{xref}\n%%EOF\n",
                self.trailer_extra
            )
            .bytes(),
        );
        out
    }
}

fn pixel(sheet: &RgbaImage, x: u32, y: u32) -> [u8; 4] {
    sheet.get_pixel(x, y).0
}

fn is_dark(p: [u8; 4]) -> bool {
    p[..3].iter().all(|&c| c < 40) && p[3] == 255
}

/// Every pixel of rows `rows` (all columns) is `color`.
fn rows_are(sheet: &RgbaImage, rows: std::ops::Range<u32>, color: [u8; 4]) -> bool {
    rows.clone()
        .all(|y| (0..sheet.width()).all(|x| pixel(sheet, x, y) == color))
}

/// Every pixel of the box `x0..x1` x `y0..y1` is dark.
fn box_is_dark(sheet: &RgbaImage, (x0, x1): (u32, u32), (y0, y1): (u32, u32)) -> bool {
    (y0..y1).all(|y| (x0..x1).all(|x| is_dark(pixel(sheet, x, y))))
}

/// The one-page PDF: a black rectangle at 100..300 x 500..600 points and a line of text
/// near the bottom.
fn one_page() -> Vec<u8> {
    let mut page = PageSpec::a4_with_rect(100, 500, 200, 100);
    page.content += "\nBT /F1 24 Tf 72 72 Td (Homework 1) Tj ET";
    Pdf::with_pages(&[page]).bytes()
}

/// A4 (595 x 842 points) at 1,240 pixels across: 1,755 down.
const A4_HEIGHT_PX: u32 = 1755;
/// Points to pixels on an A4 page drawn 1,240 wide.
const A4_SCALE: f32 = 1240.0 / 595.0;

fn px(points: f32) -> u32 {
    (points * A4_SCALE).round() as u32
}

#[test]
fn one_page_is_checked_and_drawn_with_its_rectangle_where_it_was_put() {
    let pdf = one_page();
    let info = check_pdf(&pdf, &PdfLimits::default()).unwrap();
    assert_eq!(info.pages, 1);
    assert_eq!(info.page_sizes_pt, vec![(595.0, 842.0)]);

    let sheet = render_pdf_sheet(&pdf, &PdfLimits::default()).unwrap();
    assert_eq!(sheet.dimensions(), (1240, A4_HEIGHT_PX));
    // The rectangle: x 100..300, y 842-600..842-500 from the top; 2 pixels in from its edges,
    // where anti-aliasing cannot reach.
    let (x0, x1) = (px(100.0) + 2, px(300.0) - 2);
    let (y0, y1) = (px(242.0) + 2, px(342.0) - 2);
    assert!(box_is_dark(&sheet, (x0, x1), (y0, y1)));
    // White above it, and between it and the text near the bottom.
    assert!(rows_are(&sheet, 0..px(242.0) - 2, WHITE));
    assert!(rows_are(&sheet, px(342.0) + 2..px(700.0), WHITE));
    // Beside it, on its rows.
    for y in [y0, (y0 + y1) / 2, y1] {
        assert_eq!(pixel(&sheet, px(100.0) - 3, y), WHITE);
        assert_eq!(pixel(&sheet, px(300.0) + 3, y), WHITE);
    }
    // The text is drawn (Helvetica is one of the fonts every PDF reader has, so hayro brings
    // its own): dark pixels in its band, 72..96 points up from the bottom.
    let text_rows = px(842.0 - 96.0)..px(842.0 - 66.0);
    let dark_in_text = text_rows
        .flat_map(|y| (px(72.0)..px(250.0)).map(move |x| (x, y)))
        .filter(|&(x, y)| is_dark(pixel(&sheet, x, y)))
        .count();
    assert!(dark_in_text > 500, "{dark_in_text} dark pixels of text");
    // Every pixel is opaque.
    assert!(sheet.pixels().all(|p| p.0[3] == 255));
}

#[test]
fn three_pages_are_stacked_in_order_with_grey_gaps() {
    // Page i has its rectangle 150 points further right than page i - 1.
    let pages: Vec<_> = (0..3)
        .map(|i| PageSpec::a4_with_rect(50 + 150 * i, 400, 100, 100))
        .collect();
    let pdf = Pdf::with_pages(&pages).bytes();
    let info = check_pdf(&pdf, &PdfLimits::default()).unwrap();
    assert_eq!(info.pages, 3);
    assert_eq!(info.page_sizes_pt, vec![(595.0, 842.0); 3]);

    let sheet = render_pdf_sheet(&pdf, &PdfLimits::default()).unwrap();
    let stride = A4_HEIGHT_PX + PAGE_GAP_PX;
    assert_eq!(
        sheet.dimensions(),
        (1240, 3 * A4_HEIGHT_PX + 2 * PAGE_GAP_PX)
    );
    assert_eq!(PAGE_GAP_PX, 16);
    for page in 0..3u32 {
        let top = page * stride;
        // Its rectangle, y 842-500..842-400 from its top.
        let left = 50.0 + 150.0 * page as f32;
        let (y0, y1) = (top + px(342.0) + 2, top + px(442.0) - 2);
        assert!(box_is_dark(
            &sheet,
            (px(left) + 2, px(left + 100.0) - 2),
            (y0, y1)
        ));
        // The other pages' places are white on this page.
        for other in (0..3u32).filter(|&o| o != page) {
            let x = px(50.0 + 150.0 * other as f32 + 50.0);
            assert_eq!(pixel(&sheet, x, (y0 + y1) / 2), WHITE, "page {page}");
        }
        assert!(rows_are(&sheet, top..top + px(342.0) - 2, WHITE));
        if page < 2 {
            let gap = top + A4_HEIGHT_PX..top + stride;
            assert!(rows_are(&sheet, gap, GAP_COLOR), "gap after page {page}");
        }
    }
    assert!(sheet.pixels().all(|p| p.0[3] == 255));
}

#[test]
fn a_page_turned_by_rotate_90_is_drawn_turned() {
    // A landscape 200 x 100 point page, turned a quarter clockwise: shown 100 wide, 200 tall.
    // A point (x, y) of the page (y up) is then shown at (y, x) from the top left.
    let page = PageSpec {
        media_box: "[0 0 200 100]".into(),
        rotate: Some(90),
        content: "0 0 0 rg 20 10 40 20 re f".into(),
    };
    let pdf = Pdf::with_pages(&[page]).bytes();
    let info = check_pdf(&pdf, &PdfLimits::default()).unwrap();
    assert_eq!(info.page_sizes_pt, vec![(100.0, 200.0)]);

    let sheet = render_pdf_sheet(&pdf, &PdfLimits::default()).unwrap();
    assert_eq!(sheet.dimensions(), (1240, 2480));
    let s = 12.4; // pixels a point
    let at = |points: f32| (points * s).round() as u32;
    // Shown at x 10..30, y 20..60 points.
    assert!(box_is_dark(
        &sheet,
        (at(10.0) + 2, at(30.0) - 2),
        (at(20.0) + 2, at(60.0) - 2)
    ));
    // Where it would be unturned (x 20..60, y 70..90 from the top): white.
    assert_eq!(pixel(&sheet, at(40.0), at(80.0)), WHITE);
    let dark = sheet.pixels().filter(|p| is_dark(p.0)).count() as f32;
    let expected = (20.0 * s) * (40.0 * s);
    assert!(
        (dark - expected).abs() < expected * 0.05,
        "{dark} dark pixels"
    );
}

#[test]
fn a_file_that_is_not_a_pdf_is_refused_as_such() {
    for bytes in [
        &b""[..],
        b"hello, this is a text file",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        &[0u8; 4096],
    ] {
        let err = check_pdf(bytes, &PdfLimits::default()).unwrap_err();
        assert_eq!(err, PdfError::NotPdf);
        assert_eq!(err.kind(), "notPdf");
        assert_eq!(
            render_pdf_sheet(bytes, &PdfLimits::default()).unwrap_err(),
            err
        );
    }
}

#[test]
fn a_cut_off_pdf_is_refused_as_corrupt() {
    let pdf = one_page();
    for cut in [pdf.len() / 2, pdf.len() - 10, 20] {
        let err = check_pdf(&pdf[..cut], &PdfLimits::default()).unwrap_err();
        assert_eq!(err.kind(), "corrupt", "cut at {cut}: {err}");
        assert!(render_pdf_sheet(&pdf[..cut], &PdfLimits::default()).is_err());
    }
}

#[test]
fn random_bytes_after_a_pdf_header_are_refused_as_corrupt() {
    // A deterministic scramble (xorshift), with and without the end marker.
    let mut state = 0x2545_F491_u32;
    let mut noise: Vec<u8> = b"%PDF-1.7\n".to_vec();
    noise.extend((0..8192).map(|_| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as u8
    }));
    let err = check_pdf(&noise, &PdfLimits::default()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
    noise.extend(b"\n%%EOF\n");
    let err = check_pdf(&noise, &PdfLimits::default()).unwrap_err();
    assert_eq!(err.kind(), "corrupt", "{err}");
    assert_eq!(
        render_pdf_sheet(&noise, &PdfLimits::default())
            .unwrap_err()
            .kind(),
        "corrupt"
    );
}

#[test]
fn a_pdf_that_needs_a_password_is_refused_as_encrypted() {
    let mut pdf = Pdf::with_pages(&[PageSpec::a4_with_rect(100, 100, 100, 100)]);
    // The standard security handler, RC4 128-bit, with an /O and /U no empty password matches.
    let id = "<0123456789ABCDEF0123456789ABCDEF>";
    let o = format!("<{}>", "A5".repeat(32));
    let u = format!("<{}>", "5A".repeat(32));
    pdf.objects.push(format!(
        "<< /Filter /Standard /V 2 /R 3 /Length 128 /O {o} /U {u} /P -3904 >>"
    ));
    pdf.trailer_extra = format!(" /Encrypt {} 0 R /ID [{id} {id}]", pdf.objects.len());
    let bytes = pdf.bytes();
    let err = check_pdf(&bytes, &PdfLimits::default()).unwrap_err();
    assert_eq!(err, PdfError::Encrypted);
    assert_eq!(err.kind(), "encrypted");
    assert_eq!(
        render_pdf_sheet(&bytes, &PdfLimits::default()).unwrap_err(),
        PdfError::Encrypted
    );

    // Without the /ID the standard handler needs, and with a handler hayro does not know:
    // still refused as encrypted, never drawn as if it were plain.
    for (handler, with_id) in [
        (
            "<< /Filter /Standard /V 2 /R 3 /Length 128 /O <00> /U <00> /P -4 >>",
            false,
        ),
        ("<< /Filter /NotAHandler /V 9 /R 9 >>", true),
    ] {
        let mut odd = Pdf::with_pages(&[PageSpec::a4_with_rect(100, 100, 100, 100)]);
        odd.objects.push(handler.into());
        odd.trailer_extra = format!(" /Encrypt {} 0 R", odd.objects.len());
        if with_id {
            odd.trailer_extra += &format!(" /ID [{id} {id}]");
        }
        let err = check_pdf(&odd.bytes(), &PdfLimits::default()).unwrap_err();
        assert_eq!(err.kind(), "encrypted", "{handler}: {err}");
    }
}

/// The 32 bytes every password is padded with (PDF 32000-1, 7.6.3.3).
const PASSWORD_PAD: [u8; 32] = [
    0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
    0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A,
];

fn padded(password: &str) -> Vec<u8> {
    let mut out: Vec<u8> = password.bytes().take(32).collect();
    out.extend_from_slice(&PASSWORD_PAD[..32 - out.len()]);
    out
}

/// RC4, the standard security handler's cipher up to revision 4.
fn rc4(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut s: Vec<u8> = (0..=255).collect();
    let mut j = 0u8;
    for i in 0..256 {
        j = j.wrapping_add(s[i]).wrapping_add(key[i % key.len()]);
        s.swap(i, usize::from(j));
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|&byte| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(s[usize::from(i)]);
            s.swap(usize::from(i), usize::from(j));
            byte ^ s[usize::from(s[usize::from(i)].wrapping_add(s[usize::from(j)]))]
        })
        .collect()
}

/// MD5 (RFC 1321), the standard security handler's hash up to revision 4.
fn md5(input: &[u8]) -> [u8; 16] {
    const SHIFTS: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
    let k: Vec<u32> = (0..64)
        .map(|i| ((f64::from(i) + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut message = input.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend((input.len() as u64 * 8).to_le_bytes());
    let mut state = [0x6745_2301u32, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    for chunk in message.chunks_exact(64) {
        let m: Vec<u32> = chunk
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(SHIFTS[(i / 16) * 4 + i % 4]));
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut out = [0u8; 16];
    for (o, s) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&s.to_le_bytes());
    }
    out
}

/// The key of object `id` (generation 0) from the file's key (Algorithm 1).
fn object_key(file_key: &[u8], id: usize) -> Vec<u8> {
    let mut input = file_key.to_vec();
    input.extend(&(id as u32).to_le_bytes()[..3]);
    input.extend([0, 0]);
    md5(&input)[..(file_key.len() + 5).min(16)].to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `pdf` encrypted by the standard security handler, revision 2 (40-bit RC4), as a word
/// processor writes it when it "protects" a file: with an owner password, and a user password
/// that may be empty (anyone may open it, the owner's only locks editing).
fn encrypted(mut pdf: Pdf, user: &str, owner: &str) -> Vec<u8> {
    let id = *b"homework-file-id";
    let permissions: i32 = -44; // no printing, no changes
    // Algorithm 3: /O, the user's padded password under a key from the owner's.
    let o = rc4(&md5(&padded(owner))[..5], &padded(user));
    // Algorithm 2: the file key, from the user's password.
    let mut input = padded(user);
    input.extend(&o);
    input.extend(permissions.to_le_bytes());
    input.extend(id);
    let key = md5(&input)[..5].to_vec();
    // Algorithm 4: /U, the padding under the file key.
    let u = rc4(&key, &PASSWORD_PAD);
    pdf.objects.push(format!(
        "<< /Filter /Standard /V 1 /R 2 /O <{}> /U <{}> /P {permissions} >>",
        hex(&o),
        hex(&u)
    ));
    pdf.trailer_extra = format!(
        " /Encrypt {} 0 R /ID [<{}> <{}>]",
        pdf.objects.len(),
        hex(&id),
        hex(&id)
    );
    pdf.key = Some(key);
    pdf.bytes()
}

#[test]
fn the_test_ciphers_match_their_published_vectors() {
    assert_eq!(hex(&md5(b"")), "D41D8CD98F00B204E9800998ECF8427E");
    assert_eq!(
        hex(&md5(b"The quick brown fox jumps over the lazy dog")),
        "9E107D9D372BB6826BD81D3542A419D6"
    );
    assert_eq!(hex(&rc4(b"Key", b"Plaintext")), "BBF316E8D940AF0AD3");
}

#[test]
fn a_pdf_locked_only_against_changes_opens_as_any_viewer_opens_it() {
    // No user password: every reader opens it, and so does the app. Its content stream is
    // encrypted, so a dark rectangle where it was put shows it was decrypted.
    let rect = || Pdf::with_pages(&[PageSpec::a4_with_rect(100, 500, 200, 100)]);
    let bytes = encrypted(rect(), "", "the teacher's secret");
    let plain = b"0 0 0 rg";
    assert!(
        !bytes.windows(plain.len()).any(|w| w == plain),
        "the stream is encrypted"
    );
    assert_eq!(check_pdf(&bytes, &PdfLimits::default()).unwrap().pages, 1);
    let sheet = render_pdf_sheet(&bytes, &PdfLimits::default()).unwrap();
    let (x0, x1) = (px(100.0) + 2, px(300.0) - 2);
    let (y0, y1) = (px(242.0) + 2, px(342.0) - 2);
    assert!(box_is_dark(&sheet, (x0, x1), (y0, y1)));
    assert!(rows_are(&sheet, 0..px(242.0) - 2, WHITE));

    // With a user password the app does not know: refused, never drawn.
    let bytes = encrypted(rect(), "the student's secret", "the teacher's secret");
    let err = check_pdf(&bytes, &PdfLimits::default()).unwrap_err();
    assert_eq!(err, PdfError::Encrypted);
    assert_eq!(
        render_pdf_sheet(&bytes, &PdfLimits::default()).unwrap_err(),
        PdfError::Encrypted
    );
}

#[test]
fn a_pdf_with_no_pages_is_refused() {
    let bytes = Pdf::with_pages(&[]).bytes();
    let err = check_pdf(&bytes, &PdfLimits::default()).unwrap_err();
    assert_eq!(err, PdfError::NoPages);
    assert_eq!(err.kind(), "noPages");
}

#[test]
fn twenty_pages_are_taken_and_twenty_one_are_not() {
    let pages = |n: u32| -> Vec<PageSpec> {
        (0..n)
            .map(|i| PageSpec::a4_with_rect(50 + 10 * i, 100, 50, 50))
            .collect()
    };
    let twenty = Pdf::with_pages(&pages(20)).bytes();
    assert_eq!(check_pdf(&twenty, &PdfLimits::default()).unwrap().pages, 20);

    let bytes = Pdf::with_pages(&pages(21)).bytes();
    let err = check_pdf(&bytes, &PdfLimits::default()).unwrap_err();
    assert_eq!(err, PdfError::TooManyPages { pages: 21, max: 20 });
    assert_eq!(err.kind(), "tooManyPages");
    assert_eq!(
        render_pdf_sheet(&bytes, &PdfLimits::default()).unwrap_err(),
        err
    );
}

#[test]
fn twenty_pages_are_drawn_narrower_to_stay_under_the_sheet_limit() {
    // 20 A4 pages at 1,240 across would be 43.6 megapixels; the limit is 40.
    let pages: Vec<_> = (0..20)
        .map(|i| PageSpec::a4_with_rect(50 + 10 * i, 100, 50, 50))
        .collect();
    let limits = PdfLimits::default();
    let sheet = render_pdf_sheet(&Pdf::with_pages(&pages).bytes(), &limits).unwrap();
    let (w, h) = sheet.dimensions();
    assert!((400..1240).contains(&w), "{w}");
    assert!(u64::from(w) * u64::from(h) <= limits.max_sheet_pixels);
    assert!(w > 1180, "{w}: no narrower than it has to be");
}

#[test]
fn a_page_of_an_impossible_size_is_refused_before_anything_is_drawn() {
    for (media_box, page) in [
        ("[0 0 1000000000 1000000000]", 1),
        ("[0 0 595 14401]", 1),
        ("[0 0 0 0]", 1),
        ("[100 100 100 900]", 1),
        ("[0 0 2 842]", 1),
    ] {
        let pages = [
            PageSpec::a4_with_rect(10, 10, 10, 10),
            PageSpec {
                media_box: media_box.into(),
                rotate: None,
                content: "0 0 0 rg 0 0 10 10 re f".into(),
            },
        ];
        let bytes = Pdf::with_pages(&pages).bytes();
        let err = check_pdf(&bytes, &PdfLimits::default()).unwrap_err();
        assert_eq!(err.kind(), "badPage", "{media_box}: {err}");
        assert!(
            matches!(err, PdfError::BadPage { page: p, .. } if p == page + 1),
            "{err}"
        );
        assert_eq!(
            render_pdf_sheet(&bytes, &PdfLimits::default())
                .unwrap_err()
                .kind(),
            "badPage"
        );
    }
    // The largest page PDF allows is taken, and its sheet stays within the limit.
    let side = MAX_PAGE_SIDE_PT as u32;
    let big = PageSpec {
        media_box: format!("[0 0 {side} {side}]"),
        rotate: None,
        content: "0 0 0 rg 0 0 7200 7200 re f".into(),
    };
    let sheet = render_pdf_sheet(&Pdf::with_pages(&[big]).bytes(), &PdfLimits::default()).unwrap();
    assert_eq!(sheet.dimensions(), (1240, 1240));
    assert!(is_dark(pixel(&sheet, 300, 900)));
    assert_eq!(pixel(&sheet, 900, 300), WHITE);
}

#[test]
fn numbers_a_pdf_cannot_hold_never_become_a_huge_sheet() {
    // Exponents are not PDF syntax, and 400 digits overflow every float: whatever the reader
    // makes of them, the answer is a refusal or a sheet within the limits.
    for media_box in [
        "[0 0 1e9 1e9]".to_owned(),
        format!("[0 0 1{} 842]", "0".repeat(400)),
        "[0 0 -595 -842]".to_owned(),
    ] {
        let page = PageSpec {
            media_box: media_box.clone(),
            rotate: None,
            content: "0 0 0 rg 0 0 10 10 re f".into(),
        };
        let bytes = Pdf::with_pages(&[page]).bytes();
        let limits = PdfLimits::default();
        match render_pdf_sheet(&bytes, &limits) {
            Ok(sheet) => {
                let (w, h) = sheet.dimensions();
                assert!(u64::from(w) * u64::from(h) <= limits.max_sheet_pixels);
            }
            // A page dictionary hayro cannot parse is no page at all.
            Err(e) => assert!(
                ["badPage", "noPages", "corrupt"].contains(&e.kind()),
                "{media_box}: {e}"
            ),
        }
    }
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    let pdf = one_page();
    let limits = PdfLimits {
        max_bytes: 100,
        ..PdfLimits::default()
    };
    let err = check_pdf(&pdf, &limits).unwrap_err();
    assert_eq!(
        err,
        PdfError::TooLarge {
            size: pdf.len() as u64,
            max: 100
        }
    );
    assert_eq!(err.kind(), "tooLarge");
}

#[test]
fn limits_that_cannot_be_drawn_with_are_refused() {
    let pdf = one_page();
    for page_width_px in [0, 70_000] {
        let limits = PdfLimits {
            page_width_px,
            ..PdfLimits::default()
        };
        assert_eq!(
            render_pdf_sheet(&pdf, &limits).unwrap_err().kind(),
            "render"
        );
    }
    // Too few pixels for even a 400-wide page.
    let limits = PdfLimits {
        max_sheet_pixels: 1000,
        ..PdfLimits::default()
    };
    assert_eq!(
        render_pdf_sheet(&pdf, &limits).unwrap_err().kind(),
        "tooBig"
    );
}

/// Small limits so that every case draws little.
fn small_limits() -> PdfLimits {
    PdfLimits {
        max_bytes: 1 << 20,
        max_pages: 4,
        page_width_px: 64,
        max_sheet_pixels: 64 * 400,
    }
}

/// Whatever is handed in, an answer: the sheet or a reason, never a panic, and a sheet never
/// larger than the limits.
fn answers(bytes: &[u8]) {
    let limits = small_limits();
    let checked = check_pdf(bytes, &limits);
    match render_pdf_sheet(bytes, &limits) {
        Ok(sheet) => {
            let info = checked.expect("a drawn PDF passes the check");
            assert!(info.pages >= 1 && info.pages <= limits.max_pages);
            assert!(sheet.width() <= 64);
            assert!(
                u64::from(sheet.width()) * u64::from(sheet.height()) <= limits.max_sheet_pixels
            );
        }
        Err(e) => assert!(!e.kind().is_empty()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_bytes_give_an_answer(mut bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                header in any::<bool>()) {
        if header {
            bytes.splice(0..0, b"%PDF-1.4\n".iter().copied());
            bytes.extend(b"\n%%EOF\n");
        }
        answers(&bytes);
    }

    #[test]
    fn a_mangled_pdf_gives_an_answer(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..12)
    ) {
        let mut bytes = Pdf::with_pages(&[
            PageSpec::a4_with_rect(100, 500, 200, 100),
            PageSpec {
                media_box: "[0 0 200 100]".into(),
                rotate: Some(90),
                content: "0 0 0 rg 20 10 40 20 re f BT /F1 12 Tf 5 5 Td (x) Tj ET".into(),
            },
        ])
        .bytes();
        for (at, byte, how) in edits {
            let i = at.index(bytes.len());
            match how {
                0 => bytes[i] = byte,
                1 => bytes.insert(i, byte),
                _ => {
                    bytes.remove(i);
                }
            }
        }
        answers(&bytes);
    }
}
