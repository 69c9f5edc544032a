//! Tests of [`super`].

use super::*;

const NAN: f64 = f64::NAN;

fn bars() -> Vec<Bar> {
    BARS.iter()
        .enumerate()
        .map(|(i, &[open, high, low, close, volume])| Bar { time: i as i64 * 86_400 * 1_000_000_000, open, high, low, close, volume })
        .collect()
}

fn closes() -> Vec<f64> {
    BARS.iter().map(|b| b[3]).collect()
}

fn close_to(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

/// Same length, NaN exactly where `expected` is NaN, values within 1e-9 relative.
fn assert_series(actual: &[f64], expected: &[f64], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let ok = if e.is_nan() { a.is_nan() } else { close_to(a, e) };
        assert!(ok, "{what}[{i}]: got {a}, expected {e}");
    }
}

fn all_nan(v: &[f64]) -> bool {
    v.iter().all(|x| x.is_nan())
}

fn bar(time: i64, open: f64, high: f64, low: f64, close: f64, volume: f64) -> Bar {
    Bar { time, open, high, low, close, volume }
}

// GOOG daily OHLCV, first 50 rows of /work/shared/data/GOOG.csv (2004-08-19 ..).
#[rustfmt::skip]
    const BARS: [[f64; 5]; 50] = [[100.0, 104.06, 95.96, 100.34, 22351900.0], [101.01, 109.08, 100.5, 108.31, 11428600.0], [110.75, 113.48, 109.05, 109.4, 9137200.0], [111.24, 111.6, 103.57, 104.87, 7631300.0], [104.96, 108.0, 103.88, 106.0, 4598900.0], [104.95, 107.95, 104.66, 107.91, 3551000.0], [108.1, 108.62, 105.69, 106.15, 3109000.0], [105.28, 105.49, 102.01, 102.01, 2601000.0], [102.3, 103.71, 102.16, 102.37, 2461400.0], [102.7, 102.97, 99.67, 100.25, 4573700.0], [99.19, 102.37, 98.94, 101.51, 7566900.0], [100.95, 101.74, 99.32, 100.01, 2578800.0], [101.01, 102.0, 99.61, 101.58, 2926700.0], [100.74, 103.03, 100.5, 102.3, 2495300.0], [102.53, 102.71, 101.0, 102.31, 2032900.0], [101.6, 106.56, 101.3, 105.33, 4353800.0], [106.63, 108.41, 106.46, 107.5, 3926000.0], [107.45, 112.0, 106.79, 111.49, 5419900.0], [110.56, 114.23, 110.2, 112.0, 5361900.0], [112.34, 115.8, 111.65, 113.97, 4637800.0], [114.42, 117.49, 113.55, 117.49, 4741000.0], [116.95, 121.6, 116.77, 119.36, 5319700.0], [119.81, 120.42, 117.51, 117.84, 3618000.0], [117.4, 119.67, 116.81, 118.38, 3794400.0], [118.84, 122.63, 117.02, 120.82, 4272100.0], [120.94, 124.1, 119.76, 119.83, 4566300.0], [119.56, 120.88, 117.8, 118.26, 3536600.0], [121.3, 127.4, 120.21, 126.86, 8473000.0], [126.7, 135.02, 126.23, 131.08, 15273500.0], [129.9, 132.3, 129.0, 129.6, 6885900.0], [130.8, 134.24, 128.9, 132.58, 7570000.0], [135.25, 136.87, 134.03, 135.06, 6517900.0], [134.66, 138.53, 132.24, 138.37, 7494100.0], [137.55, 138.45, 136.0, 137.08, 6697400.0], [136.92, 139.88, 136.55, 138.85, 7064600.0], [138.72, 139.68, 137.02, 137.73, 5540300.0], [137.0, 138.86, 133.85, 135.26, 5241300.0], [134.44, 137.61, 133.4, 137.4, 5838600.0], [143.32, 143.55, 140.08, 140.9, 9893000.0], [141.01, 142.38, 138.56, 142.0, 5226300.0], [144.93, 145.5, 141.95, 144.11, 6604000.0], [143.2, 149.2, 141.21, 149.16, 7025200.0], [150.5, 152.4, 147.35, 147.94, 9064000.0], [148.03, 148.99, 139.6, 140.49, 11372700.0], [144.4, 150.13, 141.62, 149.38, 14589500.0], [170.54, 180.17, 164.08, 172.43, 36891900.0], [176.4, 194.43, 172.55, 187.4, 32764200.0], [186.34, 192.64, 180.0, 181.8, 22307100.0], [182.72, 189.52, 181.77, 185.97, 13356500.0], [186.68, 194.39, 185.6, 193.3, 14846800.0]];
// Reference values: TA-Lib python 0.8.2 (C library 0.8.1), numpy 2.4.6.
// talib.SMA(closes, timeperiod=10)
#[rustfmt::skip]
    const SMA_10: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 104.76100000000001, 104.87800000000001, 104.04800000000003, 103.26600000000003, 103.00900000000004, 102.64000000000003, 102.38200000000003, 102.51700000000005, 103.46500000000006, 104.42800000000007, 105.80000000000007, 107.39800000000007, 109.33300000000006, 110.95900000000006, 112.56700000000005, 114.41800000000005, 115.86800000000005, 116.94400000000005, 118.48100000000004, 120.38900000000004, 121.95200000000003, 123.46100000000001, 125.03100000000002, 127.08400000000002, 128.954, 130.757, 132.547, 134.247, 135.30100000000002, 136.28300000000004, 137.52300000000005, 138.67600000000007, 140.08600000000007, 141.04300000000006, 141.38400000000007, 142.43700000000007, 145.9070000000001, 151.1210000000001, 155.5610000000001, 160.06800000000007, 165.19800000000006];
// talib.EMA(closes, timeperiod=10)
#[rustfmt::skip]
    const EMA_10: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 104.76100000000001, 104.1699090909091, 103.41356198347108, 103.08018707738543, 102.93833488149717, 102.82409217577042, 103.2797117801758, 104.04703691105293, 105.40030292722513, 106.60024784954783, 107.94020278599368, 109.67652955217665, 111.43716054268998, 112.6013131712918, 113.65198350378421, 114.9552592303689, 115.84157573393819, 116.28128923685851, 118.20469119379332, 120.54565643128545, 122.19190071650628, 124.08064604077786, 126.07689221518189, 128.31200272151244, 129.9061840448738, 131.5323324003513, 132.65918105483289, 133.13205722668144, 133.90804682183028, 135.17931103604295, 136.41943630221695, 137.8177206109048, 139.87995322710393, 141.34541627672138, 141.18988604459022, 142.67899767284655, 148.08827082323808, 155.2358579462857, 160.06570195605195, 164.77557432767887, 169.96183354082817];
// talib.RSI(closes, timeperiod=14)
#[rustfmt::skip]
    const RSI_14: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 53.27569005653475, 57.836053463838034, 60.79689076226846, 65.58262790646073, 66.15141638787573, 68.32872207316582, 71.8171155584298, 73.48778134443242, 69.86255388321588, 70.42081979940295, 72.86661141149008, 70.32576826886687, 66.37309864800676, 74.74619857179309, 77.68275701921122, 74.41459226336914, 76.5535203750616, 78.18778967627729, 80.17407001001038, 77.22264378545613, 78.397719475723, 75.73521805709206, 70.08247237757561, 72.03030150059405, 74.90772714621475, 75.75203521919236, 77.32792779657711, 80.58085938654236, 77.68116273235304, 62.81593334649362, 70.15522814815901, 80.7592922273542, 84.58903403258233, 78.30968211706193, 79.52835251847155, 81.49637382247958];
// talib.MACD(closes, fastperiod=12, slowperiod=26, signalperiod=9)[0]
#[rustfmt::skip]
    const MACD_LINE: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 8.737891142265553, 8.953163203932263, 8.930448571859955, 8.613843676967278, 8.438340198895048, 8.48387633204193, 8.51061972602264, 8.602904496508671, 8.980017584536085, 9.075818236585633, 8.453145605153424, 8.578138322918448, 10.417056967060063, 12.933280326805658, 14.310568938266698, 15.559207378149068, 16.944901798248935];
// talib.MACD(closes, fastperiod=12, slowperiod=26, signalperiod=9)[1]
#[rustfmt::skip]
    const MACD_SIGNAL: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 7.027451141146195, 7.412593553703409, 7.716164557334718, 7.89570038126123, 8.004228344787993, 8.10015794223878, 8.182250298995552, 8.266381138498176, 8.409108427705757, 8.542450389481733, 8.524589432616072, 8.535299210676547, 8.91165076195325, 9.715976674923732, 10.634895127592326, 11.619757577703675, 12.684786421812728];
// talib.MACD(closes, fastperiod=12, slowperiod=26, signalperiod=9)[2]
#[rustfmt::skip]
    const MACD_HIST: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 1.7104400011193581, 1.5405696502288544, 1.2142840145252372, 0.7181432957060476, 0.434111854107055, 0.38371838980314976, 0.3283694270270878, 0.3365233580104956, 0.5709091568303286, 0.5333678471039001, -0.0714438274626481, 0.042839112241901844, 1.5054062051068122, 3.2173036518819256, 3.675673810674372, 3.9394498004453933, 4.260115376436207];
// talib.BBANDS(closes, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)[0]
#[rustfmt::skip]
    const BB_UPPER: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 113.53795354210362, 115.63415627504097, 117.77998596644588, 119.18140032273031, 120.75791534282318, 122.6481216440684, 124.07139153775923, 125.120354417765, 127.6293838812631, 130.7182911238769, 132.74867696962994, 135.07406207198318, 137.26041886205186, 139.77504550432286, 141.44656630077355, 142.88339699914738, 143.89812302213923, 144.26681219277316, 145.0563746451869, 146.12731181223012, 147.19426244324814, 148.64592333221793, 150.94675959681882, 152.31341098608425, 152.1170463770901, 153.2790647403131, 160.46842189214266, 170.6053032647116, 177.1382174118133, 183.71013632851748, 190.86199033897321];
// talib.BBANDS(closes, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)[1]
#[rustfmt::skip]
    const BB_MIDDLE: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 105.28049999999999, 106.13799999999999, 106.6905, 107.1125, 107.78800000000001, 108.52900000000002, 109.12500000000003, 109.73050000000003, 110.97300000000003, 112.40850000000003, 113.87600000000002, 115.4295, 117.18199999999999, 119.02149999999999, 120.76049999999998, 122.58749999999998, 124.20749999999998, 125.59549999999999, 126.891, 128.336, 129.7375, 131.06850000000003, 132.55850000000004, 134.06350000000003, 135.169, 136.597, 139.227, 142.684, 145.43099999999998, 148.1755, 151.3605];
// talib.BBANDS(closes, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)[2]
#[rustfmt::skip]
    const BB_LOWER: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 97.02304645789636, 96.64184372495902, 95.60101403355412, 95.04359967726968, 94.81808465717684, 94.40987835593165, 94.17860846224083, 94.34064558223507, 94.31661611873696, 94.09870887612317, 95.00332303037008, 95.78493792801682, 97.10358113794811, 98.26795449567712, 100.0744336992264, 102.29160300085259, 104.51687697786073, 106.92418780722682, 108.7256253548131, 110.5446881877699, 112.28073755675187, 113.49107666778212, 114.17024040318127, 115.81358901391583, 118.22095362290992, 119.91493525968693, 117.98557810785735, 114.76269673528837, 113.7237825881867, 112.64086367148252, 111.85900966102679];
// talib.ATR(highs, lows, closes, timeperiod=14)
#[rustfmt::skip]
    const ATR_14: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 3.8500000000000005, 3.9507142857142865, 3.888520408163266, 3.9829118075801753, 3.986275249895877, 3.9979698749033137, 3.9938291695530768, 4.053555657442143, 3.9718731104819893, 3.8924536025904186, 4.015135488119674, 4.038340096111125, 3.9698872321031873, 4.339181001238674, 4.65709664400734, 4.560161169435388, 4.615863943047146, 4.592587947115207, 4.713831665178406, 4.552129403379947, 4.464834445995664, 4.335917699853116, 4.384066435577895, 4.371633118750903, 4.498659324554411, 4.45018365851481, 4.385884825763752, 4.643321623923483, 4.6723700793575205, 5.009343645117698, 5.340104813323576, 7.157954469514748, 8.218100578835124, 8.533950537489757, 8.477954070526202, 8.500243065488617];
// talib.STDDEV(closes, timeperiod=10, nbdev=1.0)
#[rustfmt::skip]
    const STDDEV_10: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 3.1731292126227704, 3.0261255757155885, 3.1081209757665476, 2.606454296549241, 2.561950233708687, 2.362557935797554, 1.8604934829232813, 2.1547206315436807, 3.4307265994246743, 4.243493372211154, 4.846056128440939, 5.7232731893558935, 6.153236627986932, 6.036923802732645, 5.645182105122915, 4.973175645400029, 4.159299941095845, 3.1163799511612793, 3.769290251492967, 4.715954728366251, 4.9153998820034985, 5.584672685126689, 6.363609746048223, 6.993036822439875, 6.915323853587775, 6.90997691747232, 6.1209493544711195, 3.8600804395763992, 3.053959560963482, 3.1169762591332417, 2.6419880771874347, 2.747039133321702, 3.9041009208268247, 4.494465596708994, 4.306272634193204, 4.815252952857339, 9.944253667319693, 15.249046822670607, 16.97390199688923, 18.405883189893384, 19.754770461840348];
// numpy.polyfit(np.arange(50.0), closes, 1) and np.corrcoef(np.arange(50.0), closes)[0, 1] ** 2
const POLY_SLOPE: f64 = 1.541057382953181;
const POLY_INTERCEPT: f64 = 89.29089411764706;
const POLY_R2: f64 = 0.8258563546969786;
// numpy: (tp * v).sum() / v.sum(), tp = (h + l + c) / 3
const VWAP_ALL: f64 = 140.54983676415077;
// numpy: (tp[10:] * v[10:]).sum() / v[10:].sum()
const AVWAP_10_LAST: f64 = 148.20685451973765;
// talib.MACD(closes with closes[0..3] = NaN, 12, 26, 9)[1] (TA-Lib skips leading NaNs)
#[rustfmt::skip]
    const MACD_SIGNAL_LEADING_NAN: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 9.252835810390742, 9.23449810631964, 9.21729699087197, 9.198251751289526, 9.191748174663308, 9.253066344819313, 9.31312547476268, 9.229160168188816, 9.180124370083941, 9.502378176116512, 10.257635800776844, 11.131976021345256, 12.076278436284728, 13.104351493895766];
// talib.EMA(closes with closes[0..3] = NaN, timeperiod=10)
#[rustfmt::skip]
    const EMA_10_LEADING_NAN: [f64; 50] = [NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 103.26599999999999, 103.09036363636363, 102.94847933884297, 103.38148309541698, 104.13030435079571, 105.46843083246922, 106.65598886292936, 107.98580906966947, 109.71384378427503, 111.46769036895229, 112.62629212005187, 113.67242082549699, 114.97198067540663, 115.85525691624179, 116.29248293147056, 118.21384967120318, 120.55314973098442, 122.19803159807816, 124.0856622166094, 126.08099635904406, 128.31536065739968, 129.90893144696338, 131.53458027478823, 132.66102022482673, 133.13356200213096, 133.9092780017435, 135.18031836506287, 136.420260480506, 137.81839493859582, 139.88050494976022, 141.34586768616745, 141.19025537959155, 142.67929985602944, 148.0885180640241, 155.23606023420155, 160.06586746434672, 164.7757097435564, 169.96194433563707];

#[test]
fn sma_matches_talib() {
    assert_series(&sma(&closes(), 10), &SMA_10, "sma");
}

#[test]
fn ema_matches_talib() {
    assert_series(&ema(&closes(), 10), &EMA_10, "ema");
    let mut c = closes();
    c[..3].fill(NAN);
    assert_series(&ema(&c, 10), &EMA_10_LEADING_NAN, "ema leading NaN");
}

#[test]
fn rsi_matches_talib() {
    assert_series(&rsi(&closes(), 14), &RSI_14, "rsi");
}

#[test]
fn macd_matches_talib() {
    let m = macd(&closes(), 12, 26, 9);
    // TA-Lib blanks the MACD line until the signal exists (index 33);
    // ours is defined from index 25 (slow - 1).
    assert!(all_nan(&m.macd[..25]));
    assert!(m.macd[25..].iter().all(|x| x.is_finite()));
    let talib_defined = 33;
    assert!(MACD_LINE[talib_defined - 1].is_nan() && !MACD_LINE[talib_defined].is_nan());
    assert_series(&m.macd[talib_defined..], &MACD_LINE[talib_defined..], "macd line");
    assert_series(&m.signal, &MACD_SIGNAL, "macd signal");
    assert_series(&m.histogram, &MACD_HIST, "macd histogram");
    // Swapped fast/slow behave like TA-Lib (which swaps them too).
    assert_eq!(macd(&closes(), 26, 12, 9).signal.len(), 50);
    assert_series(&macd(&closes(), 26, 12, 9).signal, &MACD_SIGNAL, "swapped");
    let mut c = closes();
    c[..3].fill(NAN);
    assert_series(&macd(&c, 12, 26, 9).signal, &MACD_SIGNAL_LEADING_NAN, "leading NaN");
}

#[test]
fn bollinger_matches_talib() {
    let b = bollinger(&closes(), 20, 2.0);
    assert_series(&b.upper, &BB_UPPER, "upper");
    assert_series(&b.middle, &BB_MIDDLE, "middle");
    assert_series(&b.lower, &BB_LOWER, "lower");
}

#[test]
fn atr_matches_talib() {
    assert_series(&atr(&bars(), 14), &ATR_14, "atr");
}

#[test]
fn stddev_matches_talib() {
    assert_series(&stddev(&closes(), 10), &STDDEV_10, "stddev");
}

#[test]
fn rolling_windows_recover_after_nan() {
    let v = [1.0, 2.0, NAN, 4.0, 5.0, 6.0, 7.0];
    assert_series(&sma(&v, 2), &[NAN, 1.5, NAN, NAN, 4.5, 5.5, 6.5], "sma NaN");
    assert_series(&stddev(&v, 2), &[NAN, 0.5, NAN, NAN, 0.5, 0.5, 0.5], "stddev NaN");
    // A NaN after warm-up poisons the recursive indicators, as in TA-Lib.
    assert!(ema(&v, 2)[6].is_nan());
    assert!(!ema(&[1.0, 2.0, 3.0], 2)[2].is_nan());
}

#[test]
fn vwap_and_anchored_vwap() {
    let b = bars();
    assert!(close_to(vwap(&b), VWAP_ALL));
    let a = anchored_vwap(&b, 10);
    assert_eq!(a.len(), 50);
    assert!(all_nan(&a[..10]));
    // At the anchor the VWAP is that bar's typical price.
    assert!(close_to(a[10], (b[10].high + b[10].low + b[10].close) / 3.0));
    assert!(close_to(a[49], AVWAP_10_LAST));
    assert!(close_to(anchored_vwap(&b, 0)[49], VWAP_ALL));
    assert!(all_nan(&anchored_vwap(&b, 50)));
    assert!(vwap(&[]).is_nan());
    assert!(vwap(&[bar(0, 1.0, 2.0, 0.5, 1.5, 0.0)]).is_nan());
    let zero_then = [bar(0, 1.0, 1.0, 1.0, 1.0, 0.0), bar(1, 3.0, 3.0, 3.0, 3.0, 2.0)];
    let a = anchored_vwap(&zero_then, 0);
    assert!(a[0].is_nan() && a[1] == 3.0);
}

#[test]
fn linear_trend_exact_and_noisy() {
    let line: Vec<f64> = (0..20).map(|i| 3.5 - 0.25 * i as f64).collect();
    let t = linear_trend(&line);
    assert!(close_to(t.slope, -0.25) && close_to(t.intercept, 3.5), "{t:?}");
    assert!(close_to(t.r_squared, 1.0));
    let t = linear_trend(&closes());
    assert!(close_to(t.slope, POLY_SLOPE), "{t:?}");
    assert!(close_to(t.intercept, POLY_INTERCEPT), "{t:?}");
    assert!(close_to(t.r_squared, POLY_R2), "{t:?}");
    let flat = linear_trend(&[2.0, 2.0, 2.0]);
    assert_eq!(flat, Trend { slope: 0.0, intercept: 2.0, r_squared: 1.0 });
    let one = linear_trend(&[1.0]);
    assert!(one.slope.is_nan() && one.intercept.is_nan() && one.r_squared.is_nan());
    assert!(linear_trend(&[]).slope.is_nan());
}

#[test]
fn candle_patterns() {
    use candle::*;
    let c = |o, h, l, cl| super::candle(&bar(0, o, h, l, cl, 1.0));
    // Doji with a long upper shadow: also a gravestone.
    assert_eq!(c(10.0, 10.50, 9.99, 10.0), DOJI | GRAVESTONE_DOJI);
    // Doji with a long lower shadow: also a dragonfly.
    assert_eq!(c(10.0, 10.01, 9.50, 10.0), DOJI | DRAGONFLY_DOJI);
    // Symmetric doji: doji and spinning top, neither gravestone nor dragonfly.
    assert_eq!(c(10.0, 10.20, 9.80, 10.0), DOJI | SPINNING_TOP);
    // Open == close with no range is not a doji (needs a cent either side).
    assert_eq!(c(10.0, 10.0, 10.0, 10.0), 0);
    // Sub-cent differences vanish in the rounding to cents.
    assert_eq!(c(10.001, 10.20, 9.80, 9.998), DOJI | SPINNING_TOP);
    // Small bullish body with balanced shadows: spinning top, not BULLISH.
    assert_eq!(c(10.0, 10.30, 9.70, 10.05), SPINNING_TOP);
    // Same shape bearish.
    assert_eq!(c(10.05, 10.33, 9.75, 10.0), SPINNING_TOP | BEARISH);
    // Shadow ratio exactly 1.2 (30 / 25 cents) is outside the open interval.
    assert_eq!(c(10.05, 10.35, 9.75, 10.0), BEARISH);
    // Unbalanced shadows (ratio 2): not a spinning top.
    assert_eq!(c(10.0, 10.40, 9.80, 10.0) & SPINNING_TOP, 0);
    // Marubozu-like up bar.
    assert_eq!(c(10.0, 11.05, 9.98, 11.0), BULLISH);
    // Body not dominating the shadows: not bullish (1.0 <= 1.2 * 1.0).
    assert_eq!(c(10.0, 11.5, 9.5, 11.0) & BULLISH, 0);
    // Close only 2 cents above open: not bullish.
    assert_eq!(c(10.0, 10.02, 10.0, 10.02) & BULLISH, 0);
    assert_eq!(c(11.0, 11.05, 9.95, 10.0), BEARISH);
    assert_eq!(c(NAN, 1.0, 1.0, 1.0), 0);
}

#[test]
fn support_resistance_swings() {
    // Lows/highs: swing lows at 2 (low 8) and 6 (low 6), swing high at 4 (15)
    // and 8 (14), each the extreme of its +-2 window.
    let hl = [
        (12.0, 10.0),
        (11.0, 9.0),
        (10.0, 8.0),
        (13.0, 9.5),
        (15.0, 10.5),
        (12.0, 7.0),
        (11.0, 6.0),
        (12.5, 8.0),
        (14.0, 11.0),
        (13.0, 10.0),
        (12.0, 9.0),
    ];
    let series: Vec<Bar> = hl.iter().enumerate().map(|(i, &(h, l))| bar(i as i64, l, h, l, (h + l) / 2.0, 1.0)).collect();
    // Last close 10.5: lows 8 and 6 below, highs 15 and 14 above.
    let lv = support_resistance(&series, 2);
    assert_eq!(lv.support, vec![8.0, 6.0]);
    assert_eq!(lv.resistance, vec![14.0, 15.0]);
    // Window 1 finds the same swings (the low 7.0 at 5 is beaten by 6.0 at 6,
    // the high 13 at 3 by 15 at 4).
    let lv1 = support_resistance(&series, 1);
    assert_eq!(lv1.support, vec![8.0, 6.0]);
    assert_eq!(lv1.resistance, vec![14.0, 15.0]);
    // Level equal to the last close is excluded; duplicates collapse.
    let mut flat = series.clone();
    flat.last_mut().unwrap().close = 8.0;
    assert_eq!(support_resistance(&flat, 2).support, vec![6.0]);
    let dup: Vec<Bar> = [5.0, 4.0, 5.0, 4.0, 5.0, 6.0].iter().enumerate().map(|(i, &l)| bar(i as i64, l, l + 1.0, l, l, 1.0)).collect();
    assert_eq!(support_resistance(&dup, 1).support, vec![4.0]);
    assert_eq!(support_resistance(&series, 0), Levels { support: vec![], resistance: vec![] });
    assert!(support_resistance(&series, 6).support.is_empty());
    assert!(support_resistance(&series, usize::MAX).resistance.is_empty());
    assert!(support_resistance(&[], 2).support.is_empty());
}

#[test]
fn resample_minutes_to_five() {
    const MIN: i64 = 60_000_000_000;
    let base: i64 = 1_700_000_100 * 1_000_000_000;
    let bucket0 = base.div_euclid(5 * MIN) * 5 * MIN;
    // Minutes 0..=6 after bucket0 + 3 minutes: 2 bars in the first bucket,
    // 5 in the second.
    let mins: Vec<Bar> = (0..7)
        .map(|k| {
            let p = 100.0 + k as f64;
            bar(bucket0 + (3 + k) * MIN, p, p + 2.0 - (k % 2) as f64, p - 1.0, p + 0.5, 10.0 * (k + 1) as f64)
        })
        .collect();
    let out = resample(&mins, 300);
    assert_eq!(out, vec![bar(bucket0, 100.0, 102.0, 99.0, 101.5, 30.0), bar(bucket0 + 5 * MIN, 102.0, 108.0, 101.0, 106.5, 250.0),]);
    assert!(resample(&mins, 0).is_empty());
    assert!(resample(&[], 60).is_empty());
    // Negative times floor towards -inf.
    let neg = resample(&[bar(-1, 1.0, 1.0, 1.0, 1.0, 1.0)], 60);
    assert_eq!(neg[0].time, -60_000_000_000);
    assert_eq!(resample(&mins, u32::MAX).len(), 1);
}

#[test]
fn degenerate_inputs_do_not_panic() {
    let c = closes();
    let b = bars();
    for period in [0, 51, usize::MAX] {
        assert!(all_nan(&sma(&c, period)) && sma(&c, period).len() == 50);
        assert!(all_nan(&ema(&c, period)) && ema(&c, period).len() == 50);
        assert!(all_nan(&rsi(&c, period)) && rsi(&c, period).len() == 50);
        assert!(all_nan(&atr(&b, period)) && atr(&b, period).len() == 50);
        assert!(all_nan(&stddev(&c, period)) && stddev(&c, period).len() == 50);
        let bb = bollinger(&c, period, 2.0);
        assert!(all_nan(&bb.upper) && all_nan(&bb.middle) && all_nan(&bb.lower));
        for (f, s, g) in [(period, 26, 9), (12, period, 9), (12, 26, period)] {
            let m = macd(&c, f, s, g);
            assert!(all_nan(&m.signal) && all_nan(&m.histogram) && m.macd.len() == 50);
        }
    }
    // Just too short: RSI/ATR need period + 1 values.
    assert!(all_nan(&rsi(&c[..14], 14)) && !rsi(&c[..15], 14)[14].is_nan());
    assert!(all_nan(&atr(&b[..14], 14)) && !atr(&b[..15], 14)[14].is_nan());
    assert!(all_nan(&sma(&c[..9], 10)) && !sma(&c[..10], 10)[9].is_nan());
    assert!(sma(&[], 3).is_empty() && ema(&[], 3).is_empty() && rsi(&[], 3).is_empty());
    assert!(stddev(&[], 3).is_empty() && atr(&[], 3).is_empty());
    assert!(macd(&[], 12, 26, 9).macd.is_empty() && bollinger(&[], 3, 2.0).upper.is_empty());
    assert!(all_nan(&ema(&[NAN; 5], 2)) && all_nan(&rsi(&[NAN; 5], 2)));
    assert!(all_nan(&macd(&[NAN; 40], 12, 26, 9).macd));
    assert!(all_nan(&anchored_vwap(&[], 0)));
    // Period 1 is the identity / zero.
    assert_series(&sma(&c, 1), &c, "sma 1");
    assert_series(&ema(&c, 1), &c, "ema 1");
    assert!(stddev(&c, 1).iter().all(|&x| x == 0.0));
}
